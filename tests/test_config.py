"""The config layer: durations, ${ENV} and redaction, load_config, find_config, describe."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config import describe, find_config, load_config
from cockpit.durations import format_duration, parse_duration
from cockpit.errors import ConfigError
from cockpit.secrets import BadReference, MissingEnvVar, Redactor, resolve_env
from cockpit.spec import (
    CommandCheck, DockerCheck, HttpCheck, LaunchdCheck, PortCheck, ProcessCheck, SystemdCheck, TcpCheck,
)

CONFIGS = Path(__file__).parent / "configs"
BAD = CONFIGS / "bad"
FULL_ENV = {"COCKPIT_TEST_CSB1": "cs1.example.net", "COCKPIT_TEST_TOKEN": "s3cr3t-token"}


def write(tmp_path: Path, text: str, name: str = "cockpit.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    return load_config(write(tmp_path, text), env=env or {})


def issues_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text, env)
    return str(info.value)


# --------------------------------------------------------------------------- durations

@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("5s", 5), ("2m", 120), ("1h", 3600), ("1.5s", 1.5), ("0", 0), ("0s", 0),
     ("1m30s", 90), (" 5s ", 5), ("10", 10), (".5s", 0.5), (7, 7), (0.25, 0.25), ("1H", 3600)],
)
def test_parse_duration_accepts(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 secs", "fast", "-5s", "5x", "s", "1.2.3s", "5ms5", -1, True,
                                  float("nan"), float("inf"), "1e3", None, [5]])
def test_parse_duration_rejects_with_accepted_forms(text: object) -> None:
    with pytest.raises(ValueError, match=r"500ms.*5s.*1h"):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (90, "1m30s"), (0, "0s"), (5, "5s"), (1.5, "1.5s"), (3600, "1h"), (3661, "1h1m1s"),
     (120, "2m"), (0.0005, "0.5ms"), (59.9999, "1m")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10 * 24 * 3600 * 1000))
def test_format_then_parse_round_trips_to_the_millisecond(ms: int) -> None:
    assert parse_duration(format_duration(ms / 1000)) == pytest.approx(ms / 1000, abs=5e-4)


# --------------------------------------------------------------------------- secrets

def test_resolve_env_substitutes_and_reports_secrets() -> None:
    text, found = resolve_env("https://${HOST}/x?t=${TOKEN}&again=${TOKEN}", {"HOST": "h.example", "TOKEN": "abc"})
    assert text == "https://h.example/x?t=abc&again=abc"
    assert found == {"h.example", "abc"}


def test_resolve_env_escape_and_plain_text() -> None:
    assert resolve_env("cost $5 and $${HOME} and $HOME", {}) == ("cost $5 and ${HOME} and $HOME", frozenset())
    assert resolve_env("no references", {}) == ("no references", frozenset())


def test_resolve_env_empty_value_is_not_a_secret() -> None:
    assert resolve_env("a${E}b", {"E": ""}) == ("ab", frozenset())


def test_resolve_env_missing_is_a_keyerror_naming_the_variable() -> None:
    with pytest.raises(MissingEnvVar) as info:
        resolve_env("Bearer ${FLEET_TOKEN}", {})
    assert isinstance(info.value, KeyError)
    assert info.value.name == "FLEET_TOKEN"
    assert "FLEET_TOKEN is not set" in str(info.value)


@pytest.mark.parametrize("text", ["${", "${1ABC}", "${A-B}", "x ${unclosed"])
def test_resolve_env_malformed_reference(text: str) -> None:
    with pytest.raises(BadReference):
        resolve_env(text, {"A": "1"})


def test_redactor_longest_first_and_every_occurrence() -> None:
    r = Redactor(["abc", "abcdef", "", "x.y"])
    assert r.redact("abcdef abc abcabc xzy x.y") == "*** *** ****** xzy ***"
    assert r.redact_bytes(b"token=abcdef;") == b"token=***;"
    assert "abc" not in repr(r)


def test_redactor_without_secrets_is_a_no_op() -> None:
    r = Redactor([])
    text = "anything (.*) at all"
    assert r.redact(text) is text
    assert r.redact_bytes(b"x") == b"x"
    assert not r


def test_redactor_handles_non_ascii_bytes() -> None:
    assert Redactor(["pässword"]).redact_bytes("a pässword b".encode()) == b"a *** b"


# --------------------------------------------------------------------------- a full config

@pytest.fixture(scope="module")
def full():
    return load_config(CONFIGS / "full.toml", env=FULL_ENV)


def test_full_config_settings(full) -> None:
    c = full.cockpit
    assert c.title == "Fleet agent v1 -> v2"
    assert c.interval == 2.0
    assert full.journal.path == CONFIGS.absolute() / "cutover.sqlite"
    assert c.history == 60
    assert c.phases == ("Decommission v1", "Canary 10%")
    s = full.ssh
    assert s.config == CONFIGS.absolute() / "inventories" / "ssh_config"
    assert s.known_hosts == CONFIGS.absolute() / "known_hosts"
    assert (s.host_keys, s.connect_timeout, s.command_timeout, s.keepalive) == ("accept-new", 3.0, 60.0, 0.0)
    assert (s.max_sessions, s.max_startups) == (4, 6)
    assert s.identity_files == (str(Path("~/.ssh/id_ed25519").expanduser()), str(CONFIGS.absolute() / "keys/ops"))
    assert full.path == (CONFIGS / "full.toml").absolute()


def test_full_config_hosts_merge_with_inventory_in_order(full) -> None:
    names = [h.name for h in full.hosts]
    # config order first, then inventory-only hosts in inventory order
    assert names == ["csb1", "web01", "laptop", "bastion", "web01.example.net", "web02.example.net",
                     "web03.example.net", "db-a", "db-b", "controller"]
    csb1 = full.host("csb1")
    assert (csb1.address, csb1.port, csb1.user, csb1.tags) == ("cs1.example.net", 2222, "ops", ("cloud", "dashboard"))
    assert csb1.login_shell and csb1.mounts == ("/", "/var")
    assert csb1.identity_file == str(Path("~/.ssh/ops_key").expanduser())
    web01 = full.host("web01")  # inventory fields kept, config's user overrides, tags extended
    assert (web01.address, web01.port, web01.user) == ("192.0.2.11", 2201, "deploy")
    assert web01.tags == ("webservers", "eu", "canary")
    laptop = full.host("laptop")
    assert (laptop.transport, laptop.address) == ("local", "localhost")
    assert full.host("controller").transport == "local"


def test_full_config_checks(full) -> None:
    web = full.service("fleet-web")
    assert web.on == ("tag:dashboard",) and web.critical and web.timeout == 10.0
    assert web.check == HttpCheck(
        url="https://fleet.example.net/health?token=s3cr3t-token", expect_status=(200, 302),
        expect_body="ok", expect_body_regex=r"v2\.\d+", max_latency=0.5,
        headers=(("Authorization", "Bearer s3cr3t-token"), ("X-Trace", "cockpit")), secret_headers=("Authorization",),
        follow_redirects=True, verify_tls=False, connect_to="10.0.0.5:443", via="csb1",
    )
    assert full.service("fleet-agent").on == ("web*",)  # a bare string is accepted
    assert full.service("fleet-agent").check == SystemdCheck("fleet-agent.service")
    assert full.service("agent-mac").check == LaunchdCheck("net.example.fleet-agent")
    assert not full.service("agent-mac").critical
    assert full.service("traefik").check == DockerCheck("traefik")
    assert full.service("proxy-port").check == PortCheck(8088, owner="traefik")
    assert full.service("old-port-free").check == PortCheck(9000, free=True)
    assert full.service("postgres").check == TcpCheck(5432, host="db.internal", via="csb1")
    assert full.service("fleet-agent").timeout is None


def test_dollar_brace_in_commands_and_patterns_is_left_for_the_remote_shell(full) -> None:
    assert full.service("v1-gone").check == ProcessCheck("fleet-agent-v1 --serve ${PORT}")
    assert full.service("v2-config").check == CommandCheck(
        'test -f /etc/fleet/v2.toml && echo "home=${HOME}" && echo $${literal}',
        expect_stdout="home=", expect_stdout_regex="^home=.*$",
    )


def test_full_config_secrets_and_assignments(full) -> None:
    assert full.secrets == {"cs1.example.net", "s3cr3t-token"}
    assignments = dict(full.assignments)
    assert list(assignments) == [h.name for h in full.hosts]
    assert assignments["csb1"] == ("fleet-web", "v1-gone", "proxy-port", "old-port-free", "v2-config")
    assert assignments["web01"] == ("fleet-agent", "traefik", "v1-gone", "v2-config")
    assert assignments["db-a"] == ("postgres", "v2-config")
    assert [s.name for s in full.services_on("laptop")] == ["agent-mac", "v2-config"]


def test_describe_summarises_and_redacts(full) -> None:
    text = describe(full)
    assert text.splitlines()[0] == "Fleet agent v1 -> v2"
    for needle in ("interval  2s", "10 hosts", "9 services", "Checks per host", "web01.example.net:2022",
                   "cloud, dashboard", "local", "fleet-web", "http https://fleet.example.net/health?token=***",
                   "non-critical", "on tag:dashboard -> csb1"):
        assert needle in text, needle
    assert "s3cr3t-token" not in text and "cs1.example.net" not in text
    assert re.search(r"csb1\s+5\s+fleet-web, v1-gone, proxy-port, old-port-free, v2-config", text)


def test_minimal_config_defaults(tmp_path: Path) -> None:
    config = load_text(tmp_path, "[hosts.web1]\n")
    assert config.cockpit.title == "Cutover Cockpit" and config.cockpit.interval == 5.0
    assert config.journal.path == tmp_path / "cockpit.journal.sqlite"
    assert config.ssh.host_keys == "strict" and config.ssh.config is None
    host = config.host("web1")
    assert (host.address, host.port, host.user, host.transport, host.mounts) == ("web1", None, None, "ssh", ("/",))
    assert config.services == () and config.assignments == (("web1", ()),)
    assert "1 host\n" in describe(config) + "\n"


def test_env_only_in_listed_fields(tmp_path: Path) -> None:
    config = load_text(tmp_path, """
[cockpit]
title = "${TITLE}"
[hosts.a]
address = "$${literal}.example"
user = "${USER_NAME}"
[services.s]
on = ["a"]
tcp = 22
tcp_host = "${DB}"
""", env={"TITLE": "nope", "USER_NAME": "ops", "DB": "db.internal"})
    assert config.cockpit.title == "${TITLE}"
    assert config.host("a").address == "${literal}.example"
    assert config.host("a").user == "ops"
    assert config.service("s").check == TcpCheck(22, host="db.internal")
    assert config.secrets == {"ops", "db.internal"}


def test_expect_status_int_and_bare_selector(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[hosts.a]\n[services.s]\non = "all"\nhttp = "http://a/"\nexpect_status = 204\n')
    assert config.service("s").check.expect_status == (204,)  # type: ignore[union-attr]


def test_ansible_yaml_inventory_alone_is_enough(tmp_path: Path) -> None:
    inv = CONFIGS / "inventories" / "hosts.yml"
    config = load_text(tmp_path, f'[inventory]\nansible = "{inv}"\n[services.s]\non = ["tag:eu"]\nsystemd = "x"\n')
    assert [h for h, names in config.assignments if names] == [
        "web01.example.net", "web02.example.net", "web03.example.net", "web01", "db-a", "db-b"]


def test_all_issues_are_collected_in_line_order() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(BAD / "many_issues.toml", env={})
    keys = [i.key for i in info.value.issues]
    assert keys == ["cockpit.interval", "cockpit.histroy", "ssh.max_sessions", "hosts.csb1.port", "services.agent.on"]
    assert [i.line for i in info.value.issues] == [3, 4, 7, 10, 13]


# --------------------------------------------------------------------------- malformed configs

# file, key path, line (None: no line applies), a piece of the fix
BAD_CASES = [
    ("http_bad_port.toml", "services.site.http", 6, "ports are 1..65535"),
    ("syntax_error.toml", "cockpit.interval", 3, 'quote strings and durations'),
    ("unterminated_string.toml", "hosts.csb1.address", 3, "close the string"),
    ("unknown_key.toml", "services.fleet-web.expect_stauts", 8, "did you mean 'expect_status'?"),
    ("unknown_table.toml", "host", 5, "did you mean 'hosts'?"),
    ("wrong_type.toml", "hosts.csb1.port", 4, "write port = 2222 (no quotes)"),
    ("wrong_type_bool.toml", "hosts.csb1.login_shell", 3, "login_shell = true"),
    ("unknown_host_selector.toml", "services.agent.on", 6, "did you mean 'csb1'?"),
    ("tag_matches_nothing.toml", "services.agent.on", 6, 'add tags = ["nixos"]'),
    ("glob_matches_nothing.toml", "services.agent.on", 6, "fix the pattern"),
    ("empty_selectors.toml", "services.agent.on", 5, 'on = ["tag:web"]'),
    ("duplicate_table.toml", "hosts.csb1", 8, "merge the two [hosts.csb1] tables"),
    ("duplicate_key.toml", "hosts.csb1.port", 5, "a key may appear only once"),
    ("bad_duration.toml", "cockpit.interval", 4, '"500ms", "5s"'),
    ("zero_duration.toml", "cockpit.interval", 3, 'interval = "5s"'),
    ("unset_env.toml", "services.fleet-web.headers.Authorization", 8, "export COCKPIT_TEST_NEVER_SET_TOKEN="),
    ("missing_inventory.toml", "inventory.ansible", 3, "relative to the config file)"),
    ("bad_inventory.toml", "inventory.ansible", 3, "fix the inventory"),
    ("two_kinds.toml", "services.fleet-web.http", 7, "split it into one service per check kind"),
    ("no_kind.toml", "services.fleet-web", 4, 'systemd = "nginx.service"'),
    ("option_wrong_kind.toml", "services.fleet-web.expect_body", 7, "remove expect_body"),
    ("port_owner_without_port.toml", "services.traefik", 4, "add e.g. port = 8080"),
    ("bad_regex.toml", "services.fleet-web.expect_body_regex", 7, "fix the pattern"),
    ("port_out_of_range.toml", "services.postgres.tcp", 6, "from 1 to 65535"),
    ("host_keys_accept_all.toml", "ssh.host_keys", 3, "no setting accepts a changed key"),
    ("via_unknown_host.toml", "services.fleet-web.via", 8, "did you mean 'bastion'?"),
    ("zero_hosts.toml", "hosts", None, "add a [hosts.NAME] table"),
    ("bad_url.toml", "services.fleet-web.http", 6, 'http = "https://'),
    ("bad_host_name.toml", 'hosts."web*"', 2, "rename the host"),
    ("bad_transport.toml", "hosts.csb1.transport", 3, 'transport = "ssh"'),
    ("many_issues.toml", "cockpit.histroy", 4, "did you mean 'history'?"),
    ("non_utf8.toml", "", 3, "re-save the file as UTF-8"),
]


def test_every_bad_fixture_has_a_case() -> None:
    assert sorted(p.name for p in BAD.glob("*.toml")) == sorted(case[0] for case in BAD_CASES)


@pytest.mark.parametrize(("name", "key", "line", "fix"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_config(name: str, key: str, line: int | None, fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(BAD / name, env={})
    text = str(info.value)
    assert name in text
    if key:
        assert f"[{key}]" in text
    if line is not None:
        assert f"{name}:{line}:" in text
    assert "fix: " in text and fix in text
    matching = [i for i in info.value.issues if i.key == key and i.file.endswith(name)]
    assert matching and matching[0].line == line and fix in matching[0].fix


def test_bad_inventory_issue_names_the_inventory_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(BAD / "bad_inventory.toml", env={})
    assert "bad_range.ini:3: [webservers.web[01:3]] bad host range" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert "nope.toml" in str(info.value) and "does not exist" in str(info.value) and "fix:" in str(info.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[hosts.a]\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError, match="permission denied"):
        load_config(path)


def test_missing_ssh_config_file(tmp_path: Path) -> None:
    text = issues_of(tmp_path, '[ssh]\nconfig = "no-such-ssh-config"\n[hosts.a]\n')
    assert "cockpit.toml:2: [ssh.config]" in text and "does not exist" in text


def test_secret_values_never_appear_in_issues(tmp_path: Path) -> None:
    text = issues_of(tmp_path, '[hosts.a]\n[services.s]\non = ["a"]\nhttp = "${URL}"\n', env={"URL": "not-a-url-SECRET"})
    assert "SECRET" not in text and "${URL}" in text


def test_wrong_kind_option_conflicts_and_types(tmp_path: Path) -> None:
    text = issues_of(tmp_path, """
[hosts.a]
[services.s]
on = ["a"]
port = 80
port_owner = "nginx"
port_free = true
via = "a"
[services.t]
on = "a"
http = "https://a/"
headers = { "Bad Header" = "x" }
expect_status = [200, 700]
max_latency = "soon"
connect_to = "10.0.0.1:99999"
critical = "yes"
""")
    assert "[services.s.port_free] port_free = true contradicts port_owner" in text
    assert "[services.s.via] 'via' does not apply to a port check; it belongs to http or tcp" in text
    assert '[services.t.headers."Bad Header"]' in text
    assert "[services.t.expect_status] 700 is out of range" in text
    assert "[services.t.max_latency] 'soon' is not a duration" in text
    assert "[services.t.connect_to]" in text
    assert "[services.t.critical] expected true or false" in text


def test_line_numbers_with_quoted_keys_inline_tables_and_multiline_strings(tmp_path: Path) -> None:
    text = issues_of(tmp_path, '''[hosts.a]
[services."v2.check"]
on = ["a"]
command = """
port = 1
"""
expect_stdout_regex = "("
[services.h]
on = ["a"]
http = "https://x/"
headers = { A = "1", B = "${NOPE}" }
''')
    assert 'cockpit.toml:7: [services."v2.check".expect_stdout_regex]' in text
    assert "cockpit.toml:11: [services.h.headers.B] environment variable NOPE is not set" in text


def test_dotted_keys_are_located(tmp_path: Path) -> None:
    text = issues_of(tmp_path, '[hosts]\nweb.port = 0\n')
    assert "cockpit.toml:2: [hosts.web.port]" in text


def test_top_level_tables_must_be_tables(tmp_path: Path) -> None:
    text = issues_of(tmp_path, 'hosts = ["a", "b"]\n')
    assert "cockpit.toml:1: [hosts] expected a table, got array" in text


def test_local_host_with_tcp_default_address(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[hosts.me]\ntransport = "local"\n[services.db]\non = ["me"]\ntcp = 5432\n')
    assert config.host("me").address == "localhost"


# --------------------------------------------------------------------------- never anything but ConfigError

FULL_TEXT = (CONFIGS / "full.toml").read_text()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mangled_configs_only_raise_config_error(data: st.DataObject) -> None:
    lines = FULL_TEXT.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "mangle", "swap"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            pos = data.draw(st.integers(0, len(lines[i])))
            junk = data.draw(st.text(alphabet='[]{}"=.,#$ 0aZ\'\\\n', max_size=4))
            lines[i] = lines[i][:pos] + junk + lines[i][pos:]
        if not lines:
            break
    with tempfile.TemporaryDirectory() as tmp:
        # the inventory and ssh config paths are relative: keep them resolvable
        (Path(tmp) / "inventories").mkdir()
        for name in ("hosts.ini", "ssh_config"):
            (Path(tmp) / "inventories" / name).write_text((CONFIGS / "inventories" / name).read_text())
        path = Path(tmp) / "full.toml"
        path.write_text("\n".join(lines))
        try:
            load_config(path, env=FULL_ENV)
        except ConfigError as exc:
            assert exc.issues and all(i.file for i in exc.issues)


@given(st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_arbitrary_bytes_only_raise_config_error(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.toml"
        path.write_bytes(blob)
        try:
            load_config(path, env={})
        except ConfigError:
            pass


# --------------------------------------------------------------------------- find_config

def test_find_config_prefers_cli_then_env_then_cwd(tmp_path: Path) -> None:
    a, b, c = (write(tmp_path, "", n) for n in ("a.toml", "b.toml", "cockpit.toml"))
    assert find_config(str(a), env={"COCKPIT_CONFIG": str(b)}, cwd=tmp_path) == a
    assert find_config("a.toml", env={}, cwd=tmp_path) == a
    assert find_config(None, env={"COCKPIT_CONFIG": str(b)}, cwd=tmp_path) == b
    assert find_config(None, env={}, cwd=tmp_path) == c


def test_find_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(None, env={}, cwd=tmp_path)
    assert "cockpit.toml" in str(info.value) and "COCKPIT_CONFIG" in str(info.value) and "fix:" in str(info.value)
    with pytest.raises(ConfigError, match="command line does not exist"):
        find_config("missing.toml", env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"named by \$COCKPIT_CONFIG does not exist"):
        find_config(None, env={"COCKPIT_CONFIG": "gone.toml"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="is a directory"):
        find_config(str(tmp_path), env={}, cwd=tmp_path)


def test_find_config_uses_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "")
    monkeypatch.setenv("COCKPIT_CONFIG", str(path))
    assert find_config(None) == path
    assert os.environ["COCKPIT_CONFIG"] == str(path)


WRONG_VALUES = ['5', '"x"', 'true', '[1, "a"]', '{ a = 1 }', '1979-05-27', '-1', '""', '[]', '3.5', '"${NOPE}"']


def test_every_key_with_every_wrong_type_only_raises_config_error(tmp_path: Path) -> None:
    """Each value of the full config replaced by values of other types: a ConfigError or a Config, never a crash."""
    (tmp_path / "inventories").mkdir()
    for name in ("hosts.ini", "ssh_config"):
        (tmp_path / "inventories" / name).write_text((CONFIGS / "inventories" / name).read_text())
    lines = FULL_TEXT.splitlines()
    assignment = re.compile(r"^([A-Za-z_][\w-]*) = ")
    tried = 0
    for i, line in enumerate(lines):
        m = assignment.match(line)
        if m is None:
            continue
        for value in WRONG_VALUES:
            mutated = [*lines[:i], f"{m.group(1)} = {value}", *lines[i + 1:]]
            path = tmp_path / "full.toml"
            path.write_text("\n".join(mutated))
            try:
                load_config(path, env=FULL_ENV)
            except ConfigError as exc:
                assert all(issue.file for issue in exc.issues)
            tried += 1
    assert tried > 400


# --------------------------------------------------------------------------- [journal] (issue 13, item 9)

def test_journal_table_path_and_lease_ttl(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[journal]\npath = "j/run.sqlite"\nlease_ttl = "3s"\n\n[hosts.web1]\n')
    assert config.journal.path == tmp_path / "j" / "run.sqlite"
    assert config.journal.lease_ttl == 3.0
    assert config.notes == ()


def test_old_cockpit_journal_is_read_with_a_deprecation_note(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[cockpit]\njournal = "old.sqlite"\n\n[hosts.web1]\n')
    assert config.journal.path == tmp_path / "old.sqlite"
    assert config.journal.lease_ttl == 15.0
    assert len(config.notes) == 1
    note = config.notes[0]
    assert ":2:" in note and "[cockpit] journal is deprecated" in note and "[journal] path = 'old.sqlite'" in note
    assert "note: " + note in describe(config)


def test_journal_path_set_twice_and_a_tiny_lease_ttl_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, '[cockpit]\njournal = "a.sqlite"\n\n[journal]\npath = "b.sqlite"\nlease_ttl = "200ms"\n'
                            '\n[hosts.web1]\n')
    text = str(err.value)
    assert "cockpit.journal" in text and "set twice" in text
    assert "journal.lease_ttl" in text and "at least 1s" in text


# --------------------------------------------------------------------------- latency conditions

_LATENCY_FLEET = """
[cockpit]
interval = "5s"
[runbook]
window = "5m"
[hosts.a]
address = "10.0.0.1"
[hosts.b]
address = "10.0.0.2"
[services.api]
on = ["all"]
http = "http://10.0.0.1/health"
[services.db]
on = ["a"]
tcp = 5432
[services.migrate]
on = ["a"]
command = "true"
[services.agent]
on = ["all"]
systemd = "agent.service"
"""


@pytest.mark.parametrize(("cond", "service", "kind"), [
    ("p95(migrate) < 1s", "migrate", "command"), ("error_rate(agent) < 5%", "agent", "systemd"),
    ("p95(db, tls) < 50ms", "db", "tcp"),
])
def test_latency_function_on_a_kind_without_latency_is_refused(tmp_path: Path, cond: str, service: str,
                                                                kind: str) -> None:
    text = _LATENCY_FLEET + f'[[phases]]\nid = "p"\ngate = ["{cond}"]\n'
    err = issues_of(tmp_path, text)
    assert f"{service!r} is a {kind} check, which has none" in err, err
    assert "cockpit.toml:" in err and "fix:" in err and ("http and tcp" in err or "(http checks)" in err), err


def test_latency_functions_on_http_and_tcp_are_accepted(tmp_path: Path) -> None:
    text = _LATENCY_FLEET + ('[[phases]]\nid = "p"\n'
                             'gate = ["p95(api) < 200ms", "p95(api, tls) < 50ms", "p95(db, connect) < 20ms",'
                             ' "error_rate(api) < 2%"]\n')
    cfg = load_text(tmp_path, text)
    assert cfg.notes == ()


def test_a_rate_finer_than_the_window_can_tell_is_a_warning_with_the_fix(tmp_path: Path) -> None:
    # api on 2 hosts, 5 m / 5 s = 60 rounds: 120 probes; 0.1 % needs 1,000
    cfg = load_text(tmp_path, _LATENCY_FLEET + '[[phases]]\nid = "p"\ngate = ["error_rate(api) < 0.1%"]\n')
    assert len(cfg.notes) == 1
    w = cfg.notes[0]
    assert "needs 1000 probes" in w and "about 120" in w and "0.83%" in w, w
    assert "window of at least 2500s" in w and ":" in w.split()[0], w  # file:line
    from cockpit.config import describe
    assert "note: " + w in describe(cfg)
