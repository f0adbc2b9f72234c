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
