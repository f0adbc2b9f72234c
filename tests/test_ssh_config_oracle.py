"""The cockpit reads an ssh_config as the installed OpenSSH does: every host of a corpus against ``ssh -G``.

Each file of tests/data/ssh_config/ lists its queries (``# query: [-p N] [-l USER] [-i KEY] [-J JUMP] HOST``);
``@TMP@`` in the files becomes a temporary directory holding the included files and some of the keys (the
``keys/`` it names exist unless their name says ``missing`` or ``absent``). For each query the test compares
hostname, port, user, proxyjump and proxycommand with ``ssh -G``, and the expanded identity files (and the
first that exists) with what ``ssh -v`` says it loads. Any difference fails naming file, host and field.
Run as a script, it prints the agreement counts that docs/ssh.md quotes.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.errors import ConfigError
from cockpit.transports import sshconfig
from cockpit.transports.sshconfig import Sourced, load_ssh_config, resolve_ssh

CORPUS = Path(__file__).parent / "data" / "ssh_config"
FIELDS = ("hostname", "port", "user", "proxyjump", "proxycommand", "identityfiles", "first identity file")
KEYS = ("id_default", "id_app", "id_notbeta", "id_final", "id_work", "with space", "missing_first")

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")


@dataclass(frozen=True)
class Query:
    file: str
    host: str
    opts: dict[str, str]

    @property
    def label(self) -> str:
        return f"{self.file} {' '.join(f'{k} {v}' for k, v in self.opts.items())} {self.host}".replace("  ", " ")


def queries() -> list[Query]:
    out = []
    for path in sorted(CORPUS.glob("*.conf")):
        for line in path.read_text().splitlines():
            if line.startswith("# query:"):
                words = shlex.split(line.split(":", 1)[1])
                opts = dict(zip(words[:-1:2], words[1:-1:2], strict=True))
                out.append(Query(path.name, words[-1], opts))
    return out


def materialise(tmp: Path) -> None:
    """The corpus with @TMP@ filled in, and the keys that should exist."""
    (tmp / "keys").mkdir(exist_ok=True)
    for name in KEYS:
        if "missing" not in name:
            (tmp / "keys" / name).write_text("not a real key\n")
    (tmp / "keys" / "k_tok.tokens.example_22_root_root_tok_%").write_text("x\n")
    for src in CORPUS.rglob("*"):
        if src.is_file():
            dst = tmp / src.relative_to(CORPUS)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(src.read_text().replace("@TMP@", str(tmp)))


def openssh(tmp: Path, q: Query) -> dict[str, object]:
    """What ``ssh -G`` resolves, and the identity files ``ssh -v`` loads (after its own expansion)."""
    cfg = str(tmp / q.file)
    opts = [x for k, v in q.opts.items() for x in (k, v)]
    g = subprocess.run(["ssh", "-G", "-F", cfg, *opts, q.host], check=False, capture_output=True,
                       text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    assert g.returncode == 0, f"{q.label}: ssh -G failed: {g.stderr}"
    got: dict[str, object] = {"proxyjump": None, "proxycommand": None}
    for line in g.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("hostname", "user", "proxyjump", "proxycommand"):
            got[key] = value
        elif key == "port":
            got[key] = int(value)
    if got["proxycommand"] == "none":
        got["proxycommand"] = None
    no_jump = [x for k, v in q.opts.items() if k != "-J" for x in (k, v)]
    v = subprocess.run(["ssh", "-v", "-F", cfg, *no_jump, "-o", "ProxyCommand=true", "-o", "BatchMode=yes",
                        "-o", "UserKnownHostsFile=/dev/null", q.host], check=False, capture_output=True,
                       text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    ids: list[str] = []
    for line in v.stderr.splitlines():
        if line.startswith("debug1: identity file "):
            path = line[len("debug1: identity file "):].rsplit(" type ", 1)[0].replace("\\\\", "\\")
            if not (path.endswith("-cert") and path[:-5] in ids):
                ids.append(path)
    got["identityfiles"] = tuple(ids)
    got["first identity file"] = next((p for p in ids if Path(p).is_file()), None)
    return got


def cockpit(tmp: Path, q: Query) -> dict[str, object]:
    given = "the query"
    r = resolve_ssh(q.host, load_ssh_config(tmp / q.file),
                    port=Sourced(int(q.opts["-p"]), given) if "-p" in q.opts else None,
                    user=Sourced(q.opts["-l"], given) if "-l" in q.opts else None,
                    identity_files=(Sourced(q.opts["-i"], given),) if "-i" in q.opts else (),
                    proxy_jump=Sourced(q.opts["-J"], given) if "-J" in q.opts else None)
    return {"hostname": r.hostname, "port": r.port, "user": r.user, "proxyjump": r.proxy_jump,
            "proxycommand": r.proxy_command, "identityfiles": r.identity_files,
            "first identity file": r.identity_file}


def compare(tmp: Path) -> tuple[int, list[str]]:
    """(fields compared, differences as 'file host: field: cockpit X, OpenSSH Y')."""
    materialise(tmp)
    compared, diffs = 0, []
    for q in queries():
        ours, theirs = cockpit(tmp, q), openssh(tmp, q)
        for name in FIELDS:
            compared += 1
            if ours[name] != theirs[name]:
                diffs.append(f"{q.label}: {name}: cockpit {ours[name]!r}, OpenSSH {theirs[name]!r}")
    return compared, diffs


def test_every_host_of_the_corpus_resolves_as_ssh_G_does(tmp_path: Path) -> None:
    compared, diffs = compare(tmp_path)
    assert compared >= 40 * len(FIELDS) // 2
    assert not diffs, "\n".join(diffs)


if __name__ == "__main__":  # the agreement counts for docs/ssh.md
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        n, problems = compare(Path(d))
    print(f"{len(queries())} hosts in {len(list(CORPUS.glob('*.conf')))} files, {n} fields compared, "
          f"{n - len(problems)} agree")
    print("\n".join(problems))
    sys.exit(1 if problems else 0)


def refused_by_openssh(tmp: Path, keyword: str) -> bool:
    cfg = tmp / "one"
    cfg.write_text(f"Host x\n  {keyword} foo\n")
    g = subprocess.run(["ssh", "-G", "-F", str(cfg), "x"], check=False, capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    return "Bad configuration option" in g.stderr


def test_options_this_openssh_refuses_are_the_ones_validate_warns_about(tmp_path: Path) -> None:
    accepted = [k for k in sorted(sshconfig.KEYWORDS) if refused_by_openssh(tmp_path, k)]
    assert accepted == [], f"the cockpit accepts options this OpenSSH refuses: {accepted}"
    for keyword in ("UseKeychain", "Tag", "ChannelTimeout", "NoSuchOption"):
        assert refused_by_openssh(tmp_path, keyword), keyword
        (tmp_path / "cfg").write_text(f"Host x\n  {keyword} yes\nIgnoreUnknown Other\n")
        parsed = load_ssh_config(tmp_path / "cfg")
        assert parsed is not None
        assert [(w.line, keyword in w.message) for w in parsed.warnings] == [(2, True)]
    (tmp_path / "cfg2").write_text("IgnoreUnknown UseKeychain,Add*\nUseKeychain yes\nAddKeysToAgentX yes\n")
    parsed = load_ssh_config(tmp_path / "cfg2")
    assert parsed is not None and parsed.warnings == ()


@pytest.mark.parametrize(("text", "line", "words"), [
    ("Host a\n  Port 70000\n", 2, "bad port"),
    ('Host a\n  HostName "x\n', 2, "invalid quotes"),
    ("Host a\n  User\n", 2, "no argument"),
    ("Match exec true\n  User x\n", 1, "Match exec is not supported"),
    ("Match colour blue\n", 1, "unsupported Match attribute"),
    ("Match all host x\n", 1, "'all' cannot be combined"),
    ("Host a\n  HostName one two\n", 2, "garbage at end of line"),
    ("Host a\n  ProxyJump ops@hop:99999\n", 2, "invalid ProxyJump"),
])
def test_a_line_openssh_refuses_is_a_config_error_with_file_and_line(tmp_path: Path, text: str, line: int,
                                                                      words: str) -> None:
    cfg = tmp_path / "ssh_config"
    cfg.write_text(text)
    assert subprocess.run(["ssh", "-G", "-F", str(cfg), "a"], check=False, capture_output=True, timeout=20,
                          stdin=subprocess.DEVNULL).returncode != 0 or "exec" in text  # OpenSSH refuses it too
    with pytest.raises(ConfigError) as err:
        load_ssh_config(cfg)
    issue = err.value.issues[0]
    assert (issue.file, issue.line) == (str(cfg), line) and words in issue.message, issue.render()


def test_a_hosts_own_values_win_over_the_file_with_their_origin(tmp_path: Path) -> None:
    """What an inventory or the cockpit config gives (like ssh -p/-l/-J) wins, and says where it came from."""
    from cockpit.spec import HostSpec, SshSettings
    from cockpit.transports import resolve_host

    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host web1\n  HostName 10.0.0.5\n  Port 2201\n  User file-user\n  ProxyJump file-bastion\n")
    spec = HostSpec(name="web1", address="web1", port=2202, user="inv-user", proxy_jump="ops@inv-bastion:2222",
                    source=("hosts.ini", 7))
    r = resolve_host(spec, SshSettings(config=cfg))
    assert (r.hostname, r.port, r.user, r.proxy_jump) == ("10.0.0.5", 2202, "inv-user", "ops@inv-bastion:2222")
    assert [r.origin_of(f) for f in ("hostname", "port", "user", "proxy_jump")] == [
        f"{cfg}:2", "inventory hosts.ini:7", "inventory hosts.ini:7", "inventory hosts.ini:7"]
    recorded = HostSpec(name="web1", address="web1", port=2202, source=("hosts.ini", 7),
                        origins=(("port", "host_vars/web1.yml:2 (ansible_port)"),))
    assert resolve_host(recorded, SshSettings(config=cfg)).origin_of("port") == "host_vars/web1.yml:2 (ansible_port)"
    assert r.destination == ("10.0.0.5", 2202)


def test_relative_includes_are_under_the_home_ssh_directory(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".ssh" / "conf.d").mkdir(parents=True)
    (tmp_path / ".ssh" / "conf.d" / "a.conf").write_text("Host a\n  Port 2001\n")
    (tmp_path / "elsewhere").mkdir()
    cfg = tmp_path / "elsewhere" / "config"
    cfg.write_text("Include conf.d/*.conf\nHost *\n  Port 2999\n")
    monkeypatch.setattr(sshconfig, "_home", lambda: str(tmp_path))
    assert resolve_ssh("a", load_ssh_config(cfg)).port == 2001  # ~/.ssh/conf.d, not beside the file
    assert resolve_ssh("b", load_ssh_config(cfg)).port == 2999


def test_a_given_proxyjump_openssh_would_refuse_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        resolve_ssh("web1", None, proxy_jump=Sourced("ops@bastion:99999", "inventory hosts.ini:4"))
    issue = err.value.issues[0]
    assert (issue.file, issue.line) == ("inventory hosts.ini", 4) and "invalid ProxyJump" in issue.message


def test_paths_the_transport_hands_to_asyncssh_are_expanded(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cockpit.transports.ssh import connect_options

    monkeypatch.setattr(sshconfig, "_home", lambda: str(tmp_path))
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "10.0.0.7-cert.pub").write_text("x\n")
    (tmp_path / "id_10.0.0.7").write_text("x\n")  # %h is the HostName
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host web1\n  IdentityFile ~/absent\n  IdentityFile ~/id_%h\n  CertificateFile ~/certs/%h-cert.pub\n"
                   "  IdentityAgent ~/agent.%n.sock\n  IdentitiesOnly yes\n  HostName 10.0.0.7\n")
    opts = connect_options(resolve_ssh("web1", load_ssh_config(cfg)))
    assert opts["host"] == "10.0.0.7" and opts["config"] == []  # asyncssh reads no ssh_config
    assert opts["client_keys"] == [f"{tmp_path}/id_10.0.0.7"] == opts["agent_identities"]  # the absent one skipped
    assert opts["client_certs"] == [f"{tmp_path}/certs/10.0.0.7-cert.pub"]
    assert opts["agent_path"] == f"{tmp_path}/agent.web1.sock"
