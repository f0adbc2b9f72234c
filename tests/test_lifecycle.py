"""Old and new services on the loopback fleet: judged per host against their step, never a planned regression.

Before issue 15: the decommission of agent-v1 was a regression (the final gate could never hold), a new
service not deployed yet failed `check`, a non-critical service failed `--against-baseline`, and an
unreachable host's services were counted as regressions.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cockpitcfg import write_config
from runbookcfg import runbook_services, start_state
from test_cutover_exec import REBOOT, _watch_restart

from cockpit.config import load_config
from cockpit.errors import ConfigError
from cockpit.exports import failures
from cockpit.session import Session

ROOT = Path(__file__).resolve().parents[1]


def cockpit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice"}
    env.pop("COCKPIT_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def lifecycle_runbook(web_url: str, *, gate: str = '["up(agent)", "down(agent-v1)", "no_regressions"]',
                      extra: str = "") -> str:
    """The two-phase runbook with agent-v1 retired by the decommission and agent introduced by the canary."""
    text = runbook_services(web_url)
    text = text.replace('systemd = "fleet-agent-v1"\n', 'systemd = "fleet-agent-v1"\nretired_by = "decommission.stop-v1"\n', 1)
    text = text.replace('systemd = "fleet-agent"\n', 'systemd = "fleet-agent"\nintroduced_by = "canary.start-v2"\n', 1)
    text = text.replace('gate = ["up(agent)", "p95(web) < 5s"]', f"gate = {gate}")
    return extra + text


def _lines(res: subprocess.CompletedProcess[str], prefix: str) -> list[str]:
    return [line for line in res.stdout.splitlines() if line.startswith(prefix)]


def test_canary_to_decommission_gate_holds_and_check_judges_the_old_service(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start_state(fleet)
    cfg = write_config(tmp_path, fleet, lifecycle_runbook(httpd.route("/ok", body="fine")),
                       cockpit={"interval": "0.5s"})
    res = cockpit("baseline", "-c", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr

    # before the canary: agent (new) is down everywhere and that is planned, not a failure
    res = cockpit("check", "-c", str(cfg))
    assert res.returncode == 0, res.stdout
    assert "PLANNED h1 agent: down, introduced by canary.start-v2: canary.start-v2 not done on this host" in res.stdout
    snap = json.loads(cockpit("snapshot", "-c", str(cfg), "--format", "json").stdout)
    assert snap["counts"] == {"up": len(fleet.hosts), "degraded": 0, "down": 0, "unreachable": 0}

    for ref in ("decommission.stop-v1", "decommission.backup", "canary.start-v2"):
        res = cockpit("step", "run", ref, "-c", str(cfg))
        assert res.returncode == 0, res.stdout + res.stderr
    res = cockpit("gate", "-c", str(cfg), "--wait", "30s")
    assert res.returncode == 0, res.stdout + res.stderr  # down(agent-v1) and no_regressions hold together
    assert "● canary" in res.stdout and "no regressions" in res.stdout

    res = cockpit("check", "-c", str(cfg), "--against-baseline", "--rounds", "3")
    assert res.returncode == 0, res.stdout
    assert not _lines(res, "FAIL") and "PLANNED h2 agent-v1: down, retired by decommission.stop-v1 done on this host" \
        in res.stdout

    rows = json.loads(cockpit("diff", "-c", str(cfg), "--json", "--rounds", "2").stdout)
    old = next(r for r in rows if (r["host"], r["service"]) == ("h1", "agent-v1"))
    assert (old["baseline"], old["now"], old["regression"]) == ("up", "down", "")  # progress, not a regression
    assert old["expected"] == "down: retired by decommission.stop-v1 done on this host"

    report = tmp_path / "report.md"
    assert cockpit("report", "-c", str(cfg), "-o", str(report)).returncode == 0
    rows = [ln for ln in report.read_text().splitlines() if ln.startswith("| h1 | agent-v1 | up | down |")]
    assert len(rows) == 1 and "✖" not in rows[0] and "planned: expected down: retired by decommission.stop-v1 done on this host" in rows[0]

    fleet.set_systemd("h2", "fleet-agent-v1", "active running")  # the old service came back after its step
    res = cockpit("check", "-c", str(cfg))
    assert res.returncode == 1
    assert _lines(res, "FAIL") == [
        "FAIL h2 agent-v1: up: expected down (retired by decommission.stop-v1 done on this host): active (running)"
    ], res.stdout
    snap = json.loads(cockpit("snapshot", "-c", str(cfg), "--format", "json").stdout)
    assert snap["counts"]["down"] == 1 and snap["counts"]["up"] == len(fleet.hosts) - 1  # one count everywhere


def test_rolling_retirement_judges_each_host_by_its_own_outcome(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start_state(fleet)
    text = lifecycle_runbook(httpd.route("/ok", body="fine")).replace(
        'verify = ["down(agent-v1)"]', 'verify = ["down(agent-v1)"]\n  batch = 1\n  pause = "manual"', 1)
    cfg = load_config(write_config(tmp_path, fleet, text, cockpit={"interval": "0.5s"}))

    def judged(snap, host: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
        r = next(r for r in snap.host(host).results if r.service == "agent-v1")
        return r.expect, r.judged

    async def run() -> None:
        s = Session(cfg, "alice")
        try:
            await s.engine.run_round()
            task = asyncio.create_task(s.runbook.run_step("decommission.stop-v1"))
            deadline = time.monotonic() + 20
            while "paused" not in s.runbook.view().phases[0].steps[0].waiting:
                assert time.monotonic() < deadline and not task.done(), "batch 1 never paused"
                await asyncio.sleep(0.1)
            snap = await s.engine.run_round()
            assert judged(snap, "h1") == ("down", "up")  # retired on h1: down is fine
            assert judged(snap, "h2") == ("up", "up")  # batch 2 not run: still expected up
            assert failures(snap) == []
            fleet.set_systemd("h2", "fleet-agent-v1", "inactive dead")  # down before its own batch: a failure
            snap = await s.engine.run_round()
            assert [f.split(":")[0] for f in failures(snap)] == ["h2 agent-v1"]
            fleet.set_systemd("h2", "fleet-agent-v1", "active running")
            deadline = time.monotonic() + 60
            while not task.done():  # batches 2 and 3, each after its manual pause
                assert time.monotonic() < deadline, "the rolling step never ended"
                if "paused" in s.runbook.view().phases[0].steps[0].waiting:
                    s.runbook.continue_step("decommission.stop-v1")
                await asyncio.sleep(0.1)
            view = task.result()
            assert view.state == "done"
            snap = await s.engine.run_round()
            assert all(judged(snap, h.name) == ("down", "up") for h in fleet.hosts)
        finally:
            await s.close()

    asyncio.run(run())


def test_reboot_step_keeps_its_host_neutral_until_it_is_back(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")  # up before its step: shown as such, neutral
    text = REBOOT.replace('systemd = "fleet-agent"\n', 'systemd = "fleet-agent"\nintroduced_by = "maint.reboot"\n')
    cfg = load_config(write_config(tmp_path, fleet, text.replace("@WAIT@", "20s"), hosts=["h1"],
                                   ssh={"connect_timeout": "2s"}))
    seen: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_restart, args=(fleet, "h1", True, stop), daemon=True)
    watcher.start()

    async def run() -> None:
        s = Session(cfg, "alice")
        try:
            snap = await s.engine.run_round()
            assert snap.host("h1").results[0].expect == "absent" and failures(snap) == []
            task = asyncio.create_task(s.runbook.run_step("maint.reboot"))
            deadline = time.monotonic() + 40
            while not task.done():
                assert time.monotonic() < deadline
                seen.append(s.engine.snapshot().host("h1").results[0].expect)
                await asyncio.sleep(0.1)
            assert task.result().state == "done"
            r = s.engine.snapshot().host("h1").results[0]
            assert (r.expect, r.judged) == ("up", "up")
        finally:
            await s.close()

    try:
        asyncio.run(run())
    finally:
        stop.set()
        watcher.join(5)
    assert "transition" in seen and "up" not in seen, seen  # neutral all along the reboot


PLAIN = """
[services.agent-v1]
on = ["all"]
systemd = "fleet-agent-v1"

[services.dashboard]
on = ["h1"]
systemd = "dash"
critical = false
"""


def test_non_critical_regression_warns_and_an_unreachable_host_is_one_failure(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start_state(fleet)
    fleet.set_systemd("h1", "dash", "active running")
    cfg = write_config(tmp_path, fleet, PLAIN, cockpit={"interval": "0.5s"})
    res = cockpit("baseline", "-c", str(cfg), "--rounds", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    fleet.set_systemd("h1", "dash", "inactive dead")
    res = cockpit("check", "-c", str(cfg), "--against-baseline", "--rounds", "2")
    assert res.returncode == 0, res.stdout  # a non-critical service never fails --against-baseline
    # 2 rounds asked; under load a round whose timing was not counted adds one (stderr says so), never fewer
    assert re.search(r"WARN REGRESSION h1 dashboard: up in the baseline, down for [234] rounds \(non-critical\)",
                     res.stdout), res.stdout
    last = fleet.hosts[-1].name
    fleet[last].stop()
    try:
        res = cockpit("check", "-c", str(cfg), "--against-baseline", "--rounds", "2")
    finally:
        fleet[last].start()
    assert res.returncode == 1
    fails = _lines(res, "FAIL")
    assert len(fails) == 1, res.stdout  # the host, not its services as regressions
    assert fails[0].startswith(f"FAIL {last}: unreachable") and "services are unknown" in fails[0]


def test_without_a_journal_lifecycle_services_are_inconclusive(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start_state(fleet)
    cfg = write_config(tmp_path, fleet, lifecycle_runbook(httpd.route("/ok", body="fine")))
    res = cockpit("check", "-c", str(cfg))
    assert res.returncode == 1
    assert "FAIL h1 agent-v1: inconclusive: no journal: how far decommission.stop-v1 got is unknown" in res.stdout
    assert not list(tmp_path.glob("*.sqlite*")), "a headless check must not create the journal"


def test_static_expect_down(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "old-cron", "inactive dead")
    cfg = write_config(tmp_path, fleet, '[services.old-cron]\non = ["h1"]\nsystemd = "old-cron"\nexpect = "down"\n',
                       hosts=["h1"])
    assert cockpit("check", "-c", str(cfg)).returncode == 0
    fleet.set_systemd("h1", "old-cron", "active running")
    res = cockpit("check", "-c", str(cfg))
    assert res.returncode == 1 and "FAIL h1 old-cron: up: expected down (expect = \"down\")" in res.stdout


def test_validate_rejects_a_lifecycle_naming_no_step(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = lifecycle_runbook(httpd.url("/ok")).replace('"decommission.stop-v1"\n', '"decommission.stop-v2"\n', 1)
    cfg = write_config(tmp_path, fleet, text)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    msg = str(exc.value)
    assert "retired_by = 'decommission.stop-v2' names no step or phase" in msg
    assert "did you mean 'decommission.stop-v1'?" in msg and "agent-v1" in msg
    res = cockpit("validate", "-c", str(cfg))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    cfg.write_text(lifecycle_runbook(httpd.url("/ok")).join(cfg.read_text().split(text)))
    res = cockpit("validate", "-c", str(cfg))
    assert res.returncode == 0, res.stderr
    assert "critical, retired by decommission.stop-v1" in res.stdout
    assert "critical, introduced by canary.start-v2" in res.stdout


@pytest.mark.parametrize("irreversible", [False, True])
def test_quick_rollback_re_expects_the_old_service_unless_its_retirement_was_irreversible(
        fleet, httpd, tmp_path, irreversible: bool) -> None:  # type: ignore[no-untyped-def]
    start_state(fleet)
    text = lifecycle_runbook(httpd.route("/ok", body="fine"))
    if irreversible:
        text = text.replace('verify = ["down(agent-v1)"]', 'verify = ["down(agent-v1)"]\n  irreversible = true', 1)
    cfg = load_config(write_config(tmp_path, fleet, text, cockpit={"interval": "0.5s"}))
    svc = cfg.service("agent-v1")
    ref = "decommission.stop-v1"

    async def run() -> None:
        s = Session(cfg, "alice")
        try:
            await s.engine.run_round()
            assert (await s.runbook.run_step(ref, typed_id=ref)).state == "done"
            assert s.runbook.expectation("h1", svc)[0] == "down"
            assert (await s.runbook.quick_rollback()).ok  # v1 runs again everywhere
            after = s.runbook.expectation("h1", svc)
        finally:
            await s.close()
        assert after == (("down", f"retired by {ref} (irreversible) done on this host") if irreversible
                         else ("up", f"retired by {ref}: {ref} rolled back"))
        again = Session(cfg, "check", drive=False, read_only=True)  # a headless command, from the journal alone
        try:
            assert again.runbook.expectation("h1", svc) == after
        finally:
            await again.close()

    asyncio.run(run())


def test_no_regressions_ignores_non_critical_unreachable_and_planned(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The tracker behind `no_regressions`: only a critical service expected up on a reachable host regresses."""
    from cockpit.baseline import RegressionTracker
    from cockpit.history import History
    from cockpit.model import CheckResult, HostState

    cfg = tmp_path / "cockpit.toml"
    cfg.write_text('[hosts.a]\ntransport = "local"\n[hosts.b]\ntransport = "local"\n'
                   '[services.api]\non = ["all"]\nprocess = "api"\n'
                   '[services.dash]\non = ["all"]\nprocess = "dash"\ncritical = false\n'
                   '[services.old]\non = ["all"]\nprocess = "old"\n')
    config = load_config(cfg)
    tracker = RegressionTracker(config, History())
    up = {"status": "up", "detail": "", "p95": None}
    tracker.set_baseline({"at": 0, "hosts": {h: {"reach": "ok", "services": {"api": up, "dash": up, "old": up}}
                                             for h in ("a", "b")}})

    def state(host: str, reach: str = "ok", **status: str) -> HostState:
        return HostState(host, reach, results=tuple(  # type: ignore[arg-type]
            CheckResult(s, host, "process", st, st, None, 0.0, critical=s != "dash",
                        expect="down" if s == "old" else "up", expect_why="retired" if s == "old" else "")
            for s, st in status.items()))

    for _ in range(3):
        tracker.observe(state("a", api="up", dash="down", old="down"))  # dash non-critical, old retired
        tracker.observe(state("b", "unreachable", api="unknown", dash="unknown", old="unknown"))
    assert tracker.current() == []
    assert tracker.minor() == ["a dash: up in the baseline, down for 3 rounds (non-critical)"]
    for _ in range(2):
        tracker.observe(state("b", api="down", dash="up", old="down"))  # b is back: its api really is down
    assert [r.line() for r in tracker.current()] == ["b api: up in the baseline, down for 2 rounds"]
