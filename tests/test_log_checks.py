"""log checks: a pattern counted in what is new in a file, a journald unit and a container's logs.

Lines written before the cockpit watched, and before a step began, are not counted after it; lines the
step causes are; the matching lines are shown, stripped. With ``since = "baseline"`` the count runs from
the baseline across steps, and a cockpit started later reads again from the baseline's recorded cursor.
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
from cockpit.engine.logwatch import LogState
from cockpit.errors import ConfigError
from cockpit.model import CheckResult
from cockpit.session import Session
from cockpit.spec import LogCheck


def _r(snap, name: str) -> CheckResult:  # type: ignore[no-untyped-def]
    return next(r for h in snap.hosts for r in h.results if r.service == name)


@pytest.fixture
def logdir():  # type: ignore[no-untyped-def]
    """A directory the fleet's login user reads (pytest's tmp_path is root's alone)."""
    d = Path(tempfile.mkdtemp(prefix="cockpit-logs-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _deploy(gated: str, verified: str, run: str) -> str:
    """A phase gated on ``matches(gated) == 0`` whose one step on h1 runs ``run`` and expects one match in ``verified``."""
    return f"""
[[phases]]
id = "deploy"
title = "Deploy"
gate = ["matches({gated}) == 0"]

  [[phases.steps]]
  id = "restart"
  title = "Restart the app"
  on = ["h1"]
  run = '''{run}'''
  verify = ["matches({verified}) == 1"]
  within = "10s"
"""


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
""" + _deploy("errs", "errs", f"printf 'FATAL \\033[31mfrom the step\\n' >> {log}")
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


async def test_since_baseline_counts_from_the_baseline_across_steps_and_restarts(tmp_path: Path, fleet, logdir: Path) -> None:  # type: ignore[no-untyped-def]
    log = logdir / "app.log"
    _append(log, "ERROR before the cockpit watched")
    services = f"""
[services.since-base]
on = ["h1"]
log = 'ERROR|FATAL'
file = "{log}"
since = "baseline"

[services.since-step]
on = ["h1"]
log = 'ERROR|FATAL'
file = "{log}"
""" + _deploy("since-base", "since-step", f"printf 'FATAL from the step\\n' >> {log}")
    cfg = load_config(write_config(tmp_path, fleet, services, hosts=["h1"],
                                   cockpit={"state_dir": str(tmp_path / "state")}), env={})

    async def gate(s: Session) -> tuple[bool | None, str]:
        judged = await s.runbook.judge_gate_conditions()
        assert judged is not None
        return judged[1][0][1].value, judged[1][0][1].detail

    s = Session(cfg, "alice")
    try:
        await s.engine.run_round()
        _append(log, "ERROR before the baseline")
        r = _r(await s.engine.run_round(), "since-base")
        # no baseline yet: what it counted is shown, from the point it really counts from; no gate passes on it
        assert r.status == "unknown" and r.get("matches") is None, r
        assert r.detail.startswith("no baseline recorded yet (record one: cockpit baseline, or b in the cockpit); "
                                   f"file {log}: 1 matching since the cockpit started watching ("), r.detail
        value, why = await gate(s)
        assert value is None and "no baseline recorded yet" in why, why
        await s.runbook.capture_baseline()
        r = _r(s.engine.snapshot(), "since-base")
        assert (r.status, r.get("matches")) == ("up", 0) and "since the baseline (" in r.detail, r.detail
        assert (await gate(s))[0] is True
        _append(log, "ERROR after the baseline")
        await s.engine.run_round()
        # a step starts: the step's count starts again, the baseline's goes on
        view = await s.runbook.run_step("deploy.restart")
        assert view.state == "done", view.checks
        base, step = _r(s.engine.snapshot(), "since-base"), _r(s.engine.snapshot(), "since-step")
        assert (step.get("matches"), base.get("matches")) == (1, 2), (step.detail, base.detail)
        assert base.detail.startswith("2 lines match /ERROR|FATAL/ since the baseline ("), base.detail
        assert base.detail.endswith("newest: ERROR after the baseline | FATAL from the step"), base.detail
        value, why = await gate(s)
        assert value is False and "matches(since-base)" in why and "2 on h1" in why, why
    finally:
        await s.close()
    _append(log, "ERROR while no cockpit watched", "INFO fine")
    # another cockpit, later: it reads again from where the journal's baseline was, so nothing is lost
    s = Session(cfg, "bob")
    try:
        snap = await s.engine.run_round()
        base, step = _r(snap, "since-base"), _r(snap, "since-step")
        assert (base.status, base.get("matches")) == ("degraded", 3), base.detail
        assert "since the baseline (" in base.detail, base.detail
        assert base.detail.endswith("newest: ERROR after the baseline | FATAL from the step | "
                                    "ERROR while no cockpit watched"), base.detail
        assert (step.get("matches"), step.detail.startswith("no line matches")) == (0, True), step.detail
        _append(log, "ERROR once more")
        assert _r(await s.engine.run_round(), "since-base").get("matches") == 4  # read on from there, once
        await s.runbook.capture_baseline()  # a new baseline: the count starts again
        _append(log, "FATAL after the new baseline")
        r = _r(await s.engine.run_round(), "since-base")
        assert (r.get("matches"), r.detail.endswith("newest: FATAL after the new baseline")) == (1, True), r.detail
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
    (["log = 'ERROR'", 'file = "/a"', 'since = "yesterday"'], 'since must be "step" or "baseline", got \'yesterday\''),
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


def _journald_host(fleet_factory, logdir: Path):  # type: ignore[no-untyped-def]
    """A one-host fleet whose journalctl is the shim above; ``log(unit, message)`` writes an entry now."""
    bindir = logdir / "bin"
    bindir.mkdir(mode=0o755)
    (bindir / "journalctl").write_text(JOURNALCTL)
    (bindir / "journalctl").chmod(0o755)
    journal = logdir / "journal"

    def log(unit: str, message: str) -> None:
        _append(journal, f"{time.time():.6f} {unit} {message}")

    log("nixfleet-agent.service", "ERROR before the cockpit watched")
    return fleet_factory(1, extra_config=f"SetEnv COCKPIT_JOURNAL={journal} PATH={bindir}:/usr/local/bin:/usr/bin:/bin"), log


async def test_a_journald_unit_is_read_by_time_window(tmp_path: Path, fleet_factory, logdir: Path) -> None:  # type: ignore[no-untyped-def]
    fleet, log = _journald_host(fleet_factory, logdir)
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


async def test_a_journald_unit_since_the_baseline_is_read_again_from_its_time_after_a_restart(  # type: ignore[no-untyped-def]
        tmp_path: Path, fleet_factory, logdir: Path) -> None:
    fleet, log = _journald_host(fleet_factory, logdir)
    services = ('[services.agent-errs]\non = ["h1"]\nlog = "ERROR"\nunit = "nixfleet-agent.service"\n'
                'since = "baseline"\n')
    cfg = load_config(write_config(tmp_path, fleet, services, cockpit={"state_dir": str(tmp_path / "state")}), env={})
    s = Session(cfg, "alice")
    try:
        await s.engine.run_round()
        log("nixfleet-agent.service", "ERROR before the baseline")
        await s.engine.run_round()
        await s.runbook.capture_baseline()
        log("nixfleet-agent.service", "ERROR after the baseline")
        r = _r(await s.engine.run_round(), "agent-errs")
        assert (r.status, r.get("matches")) == ("degraded", 1), r.detail
    finally:
        await s.close()
    log("nixfleet-agent.service", "ERROR while no cockpit watched")
    s = Session(cfg, "bob")
    try:
        r = _r(await s.engine.run_round(), "agent-errs")
        assert (r.status, r.get("matches")) == ("degraded", 2), r.detail
        assert "since the baseline (" in r.detail, r.detail
        assert r.detail.endswith("newest: ERROR after the baseline | ERROR while no cockpit watched"), r.detail
    finally:
        await s.close()


def test_a_baseline_without_this_logs_cursor_says_so() -> None:
    """A baseline recorded before the check existed (or before cursors were recorded): no starting point."""
    check = LogCheck("ERROR", file="/var/log/app.log", since="baseline")
    v = LogState.for_check(check, ({}, time.time()), "errs").verdict(check)
    assert v.status == "unknown" and "has no starting point for this log" in v.detail, v
    assert dict(v.extra).get("matches") is None  # matches() is inconclusive, never a count from elsewhere
