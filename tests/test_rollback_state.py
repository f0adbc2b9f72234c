"""Rollback as a state the whole cockpit believes (issue 16), on the loopback fleet.

Before: after a good quick rollback the plan said "complete" and the report "completed"; a failed one gave
no host, exit status or stderr; two rollbacks shared one budget; a rollback raced a running step.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cockpitcfg import write_config
from runbookcfg import runbook_services, start_state
from test_lifecycle import lifecycle_runbook

from cockpit.config import load_config
from cockpit.errors import ConfigError
from cockpit.runbook import RunbookError
from cockpit.session import Session

ROOT = Path(__file__).resolve().parents[1]

QUICK = "[rollback]\n"
NAMED = r"""
[rollback.quick]
title = "Quick rollback to v1"
on = ["all"]
run = '''@SET@; set_unit fleet-agent-v1 'active running'; set_unit fleet-agent 'inactive dead' '''
within = "20s"
budget = "1m"

[rollback.full]
title = "Full rollback"
on = ["all"]
run = '''@SET@; set_unit fleet-agent-v1 'active running'; set_unit fleet-agent 'inactive dead'; @FULL@'''
verify = ["up(agent-v1)"]
within = "20s"
budget = "5m"
undoes = ["decommission", "canary"]
"""


def cockpit(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice"}
    env.pop("COCKPIT_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def named_runbook(web_url: str, full: str = "true", *, lifecycle: bool = True) -> str:
    """The two-phase runbook with [rollback.quick] and [rollback.full] instead of one [rollback]."""
    from runbookcfg import SET

    text = lifecycle_runbook(web_url) if lifecycle else runbook_services(web_url)
    text = text[: text.index("[rollback]")]
    return text + NAMED.replace("@SET@", SET).replace("@FULL@", full)


def _cfg(tmp_path: Path, fleet, httpd, **kw):  # type: ignore[no-untyped-def]
    start_state(fleet)
    return write_config(tmp_path, fleet, named_runbook(httpd.route("/ok", body="fine"), **kw),
                        cockpit={"interval": "0.5s"})


def test_named_rollbacks_parse_with_their_own_budgets_and_the_single_form_still_works(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rb = load_config(_cfg(tmp_path, fleet, httpd)).runbook
    assert [(r.name, r.title, r.budget, r.undoes) for r in rb.rollbacks] == [
        ("quick", "Quick rollback to v1", 60.0, ()), ("full", "Full rollback", 300.0, ("decommission", "canary"))]
    assert rb.rollback is not None and rb.rollback.name == "quick"  # R fires the first

    single = write_config(tmp_path, fleet, runbook_services(httpd.url("/ok")))
    one = load_config(single).runbook
    assert [(r.name, r.title, r.budget) for r in one.rollbacks] == [("quick", "Quick rollback to v1", 60.0)]

    bad = tmp_path / "bad.toml"
    bad.write_text(single.read_text() + '\n[rollback.extra]\nrun = "true"\n')
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert "not both" in str(err.value) and "[rollback.quick]" in str(err.value)
    res = cockpit("validate", str(bad))
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_quick_rollback_is_a_state_plan_and_report_believe(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _cfg(tmp_path, fleet, httpd)
    cfg = load_config(path)
    svc = cfg.service("agent-v1")

    async def run() -> None:
        s = Session(cfg, "alice")
        try:
            await s.engine.run_round()
            for ref in ("decommission.stop-v1", "decommission.backup"):
                assert (await s.runbook.run_step(ref)).state == "done"
            await s.runbook.evaluate_gates()
            assert s.runbook.view().phases[0].state == "done"
            assert s.runbook.expectation("h1", svc)[0] == "down"
            rec = await s.runbook.quick_rollback()
            assert rec.ok
            await s.runbook.give_reason("v2 p95 doubled")  # asked after firing
            view = s.runbook.view()
            assert view.rollback is not None and view.rollback.ok and view.rollback.budget == 60.0
            assert [p.state for p in view.phases] == ["rolled-back", "locked"]
            assert view.current == "decommission"  # not "plan complete"
            assert view.rollback.headline().startswith("ROLLED BACK at ") and "(v2 p95 doubled)" in view.rollback.headline()
            # the old service is expected up again, and it is checked so
            assert s.runbook.expectation("h1", svc) == ("up", "retired by decommission.stop-v1: decommission.stop-v1 "
                                                               "rolled back")
            snap = await s.engine.run_round()
            assert {r.expect for h in snap.hosts for r in h.results if r.service == "agent-v1"} == {"up"}
            with pytest.raises(RunbookError, match="not rolled back"):
                await s.runbook.retry_phase("canary")
        finally:
            await s.close()

    asyncio.run(run())
    res = cockpit("plan", "-c", str(path))
    assert res.returncode == 0, res.stderr
    outcome = next(line for line in res.stdout.splitlines() if line.startswith("Outcome:"))
    assert outcome.startswith("Outcome: rolled back at ") and "by alice (v2 p95 doubled)" in outcome
    assert "Quick rollback to v1" in outcome and "s of 1 m budget" in outcome
    assert "[rolled-back]" in res.stdout
    plan = json.loads(cockpit("plan", "-c", str(path), "--json").stdout)
    assert plan[0]["state"] == "rolled-back" and "rolled back at" in plan[0]["rolled_back_by"]
    report = cockpit("report", "-c", str(path)).stdout
    line = next(ln for ln in report.splitlines() if ln.startswith("- **Outcome:**"))
    assert "rolled back at" in line and "(v2 p95 doubled)" in line and "of 1m budget" in line.replace(" m ", "m ")
    assert "completed" not in line

    # retry the phase: the cutover goes on, its steps run again
    res = cockpit("rollback", "-c", str(path), "--retry-phase", "decommission", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Outcome: in progress: phase decommission open" in res.stdout


def test_full_rollback_has_its_own_budget_and_close_as_rolled_back(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _cfg(tmp_path, fleet, httpd)
    res = cockpit("step", "run", "decommission.stop-v1", "-c", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    res = cockpit("rollback", "-c", str(path), "--name", "full", "--yes", "--reason", "drill")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ROLLED BACK at" in res.stdout and "Full rollback" in res.stdout and "of 5 m budget" in res.stdout
    res = cockpit("rollback", "-c", str(path), "--close", "legacy stays until Q3", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "closed as rolled back: legacy stays until Q3" in res.stdout
    report = cockpit("report", "-c", str(path)).stdout
    assert "closed as rolled back by alice: legacy stays until Q3" in report
    assert "Full rollback (full) 5m" in report


def test_a_failed_rollback_names_the_host_its_exit_status_and_stderr_persistently(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h2 = fleet.hosts[1].name
    path = _cfg(tmp_path, fleet, httpd, full=f'if [ "$COCKPIT_TEST_HOST" = {h2} ]; then '
                                          "echo 'legacy unit masked' >&2; exit 3; fi")
    cfg = load_config(path)

    async def run() -> None:
        s = Session(cfg, "alice")
        try:
            await s.engine.run_round()
            assert not (await s.runbook.quick_rollback("full")).ok
            rb = s.runbook.view().rollback
            assert rb is not None and rb.ok is False
            assert [f.host for f in rb.failures] == [h2]
            assert "exit 3" in rb.failures[0].why and "legacy unit masked" in rb.failures[0].why
        finally:
            await s.close()

    asyncio.run(run())
    res = cockpit("plan", "-c", str(path))  # persistent: a new process reads it from the journal
    outcome = next(line for line in res.stdout.splitlines() if line.startswith("Outcome:"))
    assert "ROLLBACK FAILED at" in outcome and f"{h2}: exit 3" in outcome and "legacy unit masked" in outcome
    report = cockpit("report", "-c", str(path)).stdout
    assert f"{h2}: exit 3" in report and "legacy unit masked" in report and "ROLLBACK FAILED" in report
    res = cockpit("journal", "-c", str(path))
    assert "legacy unit masked" in res.stdout


def test_a_rollback_cancels_the_running_step_first_and_refuses_steps_while_it_runs(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _cfg(tmp_path, fleet, httpd)
    path.write_text(path.read_text().replace('run = "echo backing up; echo rows=42"', 'run = "sleep 30"'))
    cfg = load_config(path)

    async def run() -> None:
        s = Session(cfg, "alice")
        try:
            await s.engine.run_round()
            assert (await s.runbook.run_step("decommission.stop-v1")).state == "done"
            step = asyncio.create_task(s.runbook.run_step("decommission.backup"))
            while s.runbook.step_state("decommission.backup") != "running" or not s.engine.actions.running():
                await asyncio.sleep(0.05)
            rb = asyncio.create_task(s.runbook.quick_rollback())
            while s.runbook.view().rollback is None:
                await asyncio.sleep(0.01)
            with pytest.raises(RunbookError, match="steps and other rollbacks are refused"):
                await s.runbook.run_step("decommission.stop-v1", rerun="decommission.stop-v1")
            assert (await rb).ok
            with pytest.raises(asyncio.CancelledError):
                await step
            view = s.runbook.view()
            backup = next(st for st in view.phases[0].steps if st.ref == "decommission.backup")
            assert backup.state == "rolled-back"  # cancelled first (journaled below), then undone by the rollback
        finally:
            await s.close()

    asyncio.run(run())
    journal = cockpit("journal", "-c", str(path)).stdout
    assert "step decommission.backup -> failed" in journal and "cancelled by rollback" in journal
    assert journal.index("cancelled by rollback") < journal.rindex("rollback-ended")


def test_a_failing_gate_names_the_service_and_host_in_plan_and_json(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h2 = fleet.hosts[1].name
    path = _cfg(tmp_path, fleet, httpd)
    path.write_text(path.read_text().replace('gate = ["down(agent-v1)", "up(web)"]',
                                             f'gate = ["up(agent@{h2})", "up(web)"]', 1))
    res = cockpit("step", "run", "decommission.stop-v1", "-c", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    res = cockpit("step", "run", "decommission.backup", "-c", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    res = cockpit("gate", "-c", str(path))
    assert res.returncode == 1
    res = cockpit("plan", "-c", str(path))
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("✖ decommission"))
    assert "[failing]" in line and "agent" in line and h2 in line and "holding" not in line
    plan = json.loads(cockpit("plan", "-c", str(path), "--json").stdout)
    why = " ".join(plan[0]["reason"])
    assert plan[0]["state"] == "failing" and "gate FAILS" in why and "agent" in why and h2 in why


def test_a_failed_step_names_each_host_with_exit_status_duration_and_stderr(fleet, httpd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    h2 = fleet.hosts[1].name
    path = _cfg(tmp_path, fleet, httpd)
    path.write_text(path.read_text().replace(
        'run = "echo backing up; echo rows=42"',
        f'run = "echo backing up; if [ \\"$COCKPIT_TEST_HOST\\" = {h2} ]; then echo disk full >&2; exit 4; fi"\n'
        '  on = ["all"]', 1).replace('  on = ["h1"]\n  run = "echo backing up', '  run = "echo backing up', 1))
    res = cockpit("step", "run", "decommission.stop-v1", "-c", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    res = cockpit("step", "run", "decommission.backup", "-c", str(path))
    assert res.returncode == 1, res.stdout + res.stderr
    res = cockpit("plan", "-c", str(path))
    line = next(ln for ln in res.stdout.splitlines() if "decommission.backup" in ln)
    assert "[partial]" in line and f"{h2}: command failed exit 4 after " in line and "stderr: disk full" in line
