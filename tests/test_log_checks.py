"""log checks: a pattern counted in what is new in a file, a journald unit and a container's logs.

Lines written before the cockpit watched, and before a step began, are not counted after it; lines the
step causes are; the matching lines are shown, stripped.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from cockpitcfg import write_config
from dockerd import DockerDaemon
from dockerhost import docker_fleet

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.errors import ConfigError
from cockpit.model import CheckResult
from cockpit.session import Session


def _r(snap, name: str) -> CheckResult:  # type: ignore[no-untyped-def]
    return next(r for h in snap.hosts for r in h.results if r.service == name)


@pytest.fixture
def logdir():  # type: ignore[no-untyped-def]
    """A directory the fleet's login user reads (pytest's tmp_path is root's alone)."""
    d = Path(tempfile.mkdtemp(prefix="cockpit-logs-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _append(path: Path, *lines: str) -> None:
    with path.open("a") as f:
        f.write("".join(line + "\n" for line in lines))
    path.chmod(0o666)  # the step writes to it as the login user


async def test_a_file_log_counts_from_the_step_start_and_shows_the_lines(tmp_path: Path, fleet, logdir: Path) -> None:  # type: ignore[no-untyped-def]
    log = logdir / "app.log"
    _append(log, "ERROR before the cockpit watched", "INFO fine")
    services = f"""
[services.errs]
on = ["h1"]
log = 'ERROR|FATAL'
file = "{log}"

[[phases]]
id = "deploy"
title = "Deploy"
gate = ["matches(errs) == 0"]

  [[phases.steps]]
  id = "restart"
  title = "Restart the app"
  on = ["h1"]
  run = '''printf 'FATAL \\033[31mfrom the step\\n' >> {log}'''
  verify = ["matches(errs) == 1"]
  within = "10s"
"""
    cfg = load_config(write_config(tmp_path, fleet, services, hosts=["h1"],
                                   cockpit={"state_dir": str(tmp_path / "state")}), env={})
    s = Session(cfg, "alice")
    try:
        first = _r(await s.engine.run_round(), "errs")
        assert first.status == "up" and first.get("matches") == 0, first  # what was there before is not counted
        _append(log, "ERROR while watching", "INFO fine")
        r = _r(await s.engine.run_round(), "errs")
        assert (r.status, r.get("matches")) == ("degraded", 1)
        assert r.detail.startswith("1 line matches /ERROR|FATAL/ since the cockpit started watching (")
        assert r.detail.endswith("newest: ERROR while watching")
        # the step starts: the count starts again from there, and sees what the step wrote (escapes stripped)
        view = await s.runbook.run_step("deploy.restart")
        assert view.state == "done", view.checks
        r = _r(s.engine.snapshot(), "errs")
        assert r.get("matches") == 1 and r.get("matches_total") == 2, r
        assert "since step deploy.restart (" in r.detail and "\x1b" not in r.detail, r.detail
        assert "newest: FATAL" in r.detail and r.detail.endswith("from the step"), r.detail
        # rotated: the new file is read from its start, and the detail says what may be lost
        log.rename(logdir / "app.log.1")
        _append(log, "INFO new file")
        r = _r(await s.engine.run_round(), "errs")
        assert r.get("matches") == 1 and "rotated" in r.detail, r.detail
    finally:
        await s.close()


async def test_a_missing_or_unreadable_log_is_unknown_and_says_why(tmp_path: Path, fleet, logdir: Path) -> None:  # type: ignore[no-untyped-def]
    secret = logdir / "secret.log"
    _append(secret, "ERROR x")
    secret.chmod(0o600)  # root's; the login user cannot read it
    services = f"""
[services.gone]
on = ["h1"]
log = 'ERROR'
file = "{logdir / 'nope.log'}"

[services.closed]
on = ["h1"]
log = 'ERROR'
file = "{secret}"
"""
    async with Engine(load_config(write_config(tmp_path, fleet, services, hosts=["h1"]), env={})) as engine:
        snap = await engine.run_round()
    assert (_r(snap, "gone").status, _r(snap, "gone").detail) == (
        "unknown", f"file {logdir / 'nope.log'}: no such file")
    assert (_r(snap, "closed").status, _r(snap, "closed").detail) == (
        "unknown", f"file {secret}: permission denied reading it")


@pytest.mark.parametrize(("lines", "message"), [
    (["log = 'ERROR'"], "a log check reads exactly one of file, unit or container"),
    (["log = 'ERROR'", 'file = "/a"', 'unit = "b"'], "it has file, unit"),
    (["log = '\\d+ errors'", 'file = "/a"'], "\\d is not part of the extended regular expressions"),
    (["log = 'ERROR('", 'file = "/a"'], "the pattern does not compile"),
])
def test_bad_log_options_name_the_key_and_the_fix(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text('[hosts.me]\ntransport = "local"\naddress = "127.0.0.1"\n[services.l]\non = ["me"]\n'
                    + "\n".join(lines) + '\n[[phases]]\nid = "p"\ntitle = "P"\ngate = ["matches(l) == 0"]\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert message in str(exc.value)


def test_matches_on_a_service_that_is_no_log_check_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text('[hosts.me]\ntransport = "local"\naddress = "127.0.0.1"\n[services.web]\non = ["me"]\n'
                    'systemd = "web.service"\n[[phases]]\nid = "p"\ntitle = "P"\ngate = ["matches(web) == 0"]\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert "matches() needs a log service, 'web' is systemd" in str(exc.value)


@pytest.mark.xdist_group("dockerd")
async def test_container_logs_are_read_by_time_window(tmp_path: Path, fleet_factory, dockerd: DockerDaemon) -> None:  # type: ignore[no-untyped-def]
    fleet = docker_fleet(fleet_factory, dockerd)
    name = f"lg{tmp_path.name[-10:].replace('_', '').lower()}"
    # the container logs one line per "go" file the test drops in, so each line is written when the test says
    dockerd.run(name, "sh", "-c", "echo ERROR at start; while true; do if [ -f /tmp/go ]; then cat /tmp/go; "
                "rm /tmp/go; fi; sleep 0.1; done")
    try:
        services = f'[services.api-errs]\non = ["h1"]\nlog = "ERROR"\ncontainer = "{name}"\n'
        async with Engine(load_config(write_config(tmp_path, fleet, services), env={})) as engine:
            r = _r(await engine.run_round(), "api-errs")
            assert (r.status, r.get("matches")) == ("up", 0)  # "ERROR at start" predates the cockpit
            dockerd.docker("exec", name, "sh", "-c", "printf 'ERROR one\\nINFO two\\nERROR three\\n' > /tmp/go")
            seen = []
            deadline = time.monotonic() + 20
            for _ in range(100):  # the line is logged within ~0.1 s of the file appearing
                r = _r(await engine.run_round(), "api-errs")
                seen.append((r.status, r.get("matches"), r.detail))
                if r.get("matches") == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert r.status == "degraded" and r.get("matches") == 2, seen
            assert r.detail.endswith("newest: ERROR one | ERROR three"), r.detail
            r = _r(await engine.run_round(), "api-errs")
            assert r.get("matches") == 2  # each window read once: nothing counted twice
        services = '[services.api-errs]\non = ["h1"]\nlog = "ERROR"\ncontainer = "no-such-container"\n'
        async with Engine(load_config(write_config(tmp_path, fleet, services), env={})) as engine:
            await engine.run_round()
            r = _r(await engine.run_round(), "api-errs")
        assert r.status == "unknown" and "No such container" in r.detail, r.detail
    finally:
        dockerd.remove(name)


# journalctl as its time filters behave (this machine runs no journald): -u UNIT, --since @T, --until @T
# (both inclusive, fractional seconds), -o cat; entries are "EPOCH UNIT MESSAGE" lines of $COCKPIT_JOURNAL
JOURNALCTL = r"""#!/bin/sh
unit= since=0 until=9999999999
while [ $# -gt 0 ]; do
  case "$1" in
    -u) unit=$2; shift ;;
    --since) since=${2#@}; shift ;;
    --until) until=${2#@}; shift ;;
  esac
  shift
done
awk -v u="$unit" -v s="$since" -v t="$until" \
  '$2 == u && $1 + 0 >= s + 0 && $1 + 0 <= t + 0 { $1 = ""; $2 = ""; sub(/^  /, ""); print }' "$COCKPIT_JOURNAL"
"""


async def test_a_journald_unit_is_read_by_time_window(tmp_path: Path, fleet_factory, logdir: Path) -> None:  # type: ignore[no-untyped-def]
    bindir = logdir / "bin"
    bindir.mkdir(mode=0o755)
    (bindir / "journalctl").write_text(JOURNALCTL)
    (bindir / "journalctl").chmod(0o755)
    journal = logdir / "journal"

    def log(unit: str, message: str) -> None:
        _append(journal, f"{time.time():.6f} {unit} {message}")

    log("nixfleet-agent.service", "ERROR before the cockpit watched")
    fleet = fleet_factory(1, extra_config=f"SetEnv COCKPIT_JOURNAL={journal} PATH={bindir}:/usr/local/bin:/usr/bin:/bin")
    services = '[services.agent-errs]\non = ["h1"]\nlog = "ERROR"\nunit = "nixfleet-agent.service"\n'
    async with Engine(load_config(write_config(tmp_path, fleet, services), env={})) as engine:
        r = _r(await engine.run_round(), "agent-errs")
        assert (r.status, r.get("matches")) == ("up", 0)
        log("nixfleet-agent.service", "ERROR connecting to wss://fleet.example/ws")
        log("other.service", "ERROR not this unit")
        log("nixfleet-agent.service", "INFO connected")
        r = _r(await engine.run_round(), "agent-errs")
        assert (r.status, r.get("matches")) == ("degraded", 1), r.detail
        assert r.detail.endswith("newest: ERROR connecting to wss://fleet.example/ws")
        r = _r(await engine.run_round(), "agent-errs")
        assert r.get("matches") == 1  # the next window starts where this one ended: nothing twice
