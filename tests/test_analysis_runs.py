"""Gates as analysis runs over a real Prometheus: count, failure_limit, inconclusive_limit, journaled measurements.

The runbook's clock is injected: each ``evaluate_gates()`` moves it one ``interval`` on, and every
measurement queries Prometheus at its scheduled time, so ``count`` measurements over backfilled data
take milliseconds, not ``interval × count``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prom import Prometheus, namespace
from promtraffic import LOCAL_FLEET, error_ratio, p95, requests, traffic

from cockpit.config import load_config
from cockpit.journal import Journal
from cockpit.session import Session

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ns(prometheus: Prometheus) -> Iterator[str]:
    name = namespace("analysis")
    prometheus.backfill(traffic(prometheus.om(), name))
    yield name


def _cond(query: str, limit: str, count: str | None = None, min_count: int | None = None) -> str:
    args = json.dumps(query) + (f", count={json.dumps(count)}" if count else "")
    tail = f" min_count {min_count}" if min_count else ""
    return f"metric({args}) {limit}{tail}"


def write(tmp_path: Path, prometheus: Prometheus, gate: list[str], analysis: str) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(f"""
[cockpit]
title = "analysis"

[journal]
path = "{tmp_path / 'journal.sqlite'}"

{LOCAL_FLEET}
[metrics.prom]
prometheus = "{prometheus.url}"
scrape_interval = "15s"

[[phases]]
id = "canary"
gate = {json.dumps(gate)}
  [phases.analysis]
  {analysis}
""")
    return path


async def replay(path: Path, start: float, interval: float, rounds: int) -> Session:
    """Evaluate the gate ``rounds`` times, the clock one interval further each time."""
    session = Session(load_config(path), "alice")
    clock = [start]
    session.runbook.clock = lambda: clock[0]
    for _ in range(rounds):
        await session.runbook.evaluate_gates()
        clock[0] += interval
    return session


async def test_a_good_canary_passes_after_count_measurements(tmp_path: Path, prometheus: Prometheus, ns: str) -> None:
    gate = [_cond(p95(ns, "v2"), "< 200ms"), _cond(error_ratio(ns, "v2"), "< 0.1%", requests(ns, "v2"), 500)]
    path = write(tmp_path, prometheus, gate, "interval = \"1m\"\ncount = 4")
    session = await replay(path, prometheus.now - 180, 60, 4)
    view = session.runbook.view().phases[0]
    assert view.state == "done"
    assert view.analysis is not None and view.analysis.state == "passed" and view.analysis.decided_by == 4
    assert [m.value for m in view.analysis.measurements] == [True] * 4
    assert "analysis passed: 4 of 4 measurements, 0 failed (limit 0), 0 inconclusive (limit 0); decided by " \
           "measurement 4" in (view.gate.detail if view.gate else "")
    rows = Journal(tmp_path / "journal.sqlite", "test").open().measurements("canary")
    assert [(r["index"], r["ok"], r["at"] - prometheus.now) for r in rows] == [
        (1, True, -180), (2, True, -120), (3, True, -60), (4, True, 0)]
    series = rows[0]["series"]
    assert {s["series"] for s in series} == {"{}", '{version="v2"}'}  # p95 has no labels, the ratio its version
    assert all(s["ok"] is True and isinstance(s["value"], float) for s in series)


async def test_failure_limit_decides_which_measurement_fails_the_gate(tmp_path: Path, prometheus: Prometheus,
                                                                       ns: str) -> None:
    # v6 serves 5xx from t = -150 s: measurements at -300, -240, -180 pass, -120 and -60 fail
    gate = [_cond(error_ratio(ns, "v6"), "< 0.1%")]
    path = write(tmp_path, prometheus, gate, "interval = \"1m\"\ncount = 5\nfailure_limit = 1")
    session = await replay(path, prometheus.now - 300, 60, 6)
    view = session.runbook.view().phases[0]
    assert view.state == "failing"
    a = view.analysis
    assert a is not None and a.state == "failed" and a.decided_by == 5
    assert [m.value for m in a.measurements] == [True, True, True, False, False]
    assert view.gate is not None and view.gate.value is False
    assert "analysis FAILED: 5 of 5 measurements, 2 failed (limit 1)" in view.gate.detail
    assert "decided by measurement 5" in view.gate.detail and 'version="v6"' in view.gate.detail


async def test_failure_limit_zero_fails_on_the_first_failure(tmp_path: Path, prometheus: Prometheus, ns: str) -> None:
    path = write(tmp_path, prometheus, [_cond(error_ratio(ns, "v6"), "< 0.1%")], "interval = \"1m\"\ncount = 5")
    session = await replay(path, prometheus.now - 300, 60, 6)
    a = session.runbook.view().phases[0].analysis
    assert a is not None and a.state == "failed" and a.decided_by == 4 and len(a.measurements) == 4


async def test_inconclusive_limit_stops_the_run_for_the_operator(tmp_path: Path, prometheus: Prometheus,
                                                                  ns: str) -> None:
    # v4 stops reporting at t = -120 s: fresh at -180 and -120, stale from -60 on (older than 2 × 15 s)
    gate = [_cond(error_ratio(ns, "v4", "5m"), "< 0.1%")]
    path = write(tmp_path, prometheus, gate, "interval = \"1m\"\ncount = 5\ninconclusive_limit = 1")
    session = await replay(path, prometheus.now - 180, 60, 5)
    view = session.runbook.view().phases[0]
    a = view.analysis
    assert a is not None and a.state == "inconclusive" and a.decided_by == 4
    assert [m.value for m in a.measurements] == [True, True, None, None]
    assert view.state != "done" and view.gate is not None and view.gate.value is None
    assert "the operator decides" in view.gate.detail and "stale" in view.gate.detail


async def test_a_restarted_cockpit_resumes_the_run_from_the_journal(tmp_path: Path, prometheus: Prometheus,
                                                                     ns: str) -> None:
    gate = [_cond(error_ratio(ns, "v2"), "< 0.1%")]
    path = write(tmp_path, prometheus, gate, "interval = \"1m\"\ncount = 4")
    first = await replay(path, prometheus.now - 180, 60, 2)
    first.journal.release()  # type: ignore[union-attr]
    again = Session(load_config(path), "alice")
    a = again.runbook.view().phases[0].analysis
    assert a is not None and len(a.measurements) == 2 and a.state == "running"
    clock = [prometheus.now - 60]
    again.runbook.clock = lambda: clock[0]
    await again.runbook.evaluate_gates()
    clock[0] = prometheus.now
    await again.runbook.evaluate_gates()
    a = again.runbook.view().phases[0].analysis
    assert a is not None and a.state == "passed" and [m.index for m in a.measurements] == [1, 2, 3, 4]


def test_plan_lists_the_measurements(tmp_path: Path, prometheus: Prometheus, ns: str) -> None:
    import asyncio

    gate = [_cond(error_ratio(ns, "v6"), "< 0.1%")]
    path = write(tmp_path, prometheus, gate, "interval = \"1m\"\ncount = 5\nfailure_limit = 1")
    session = asyncio.run(replay(path, prometheus.now - 300, 60, 6))
    session.journal.release()  # type: ignore[union-attr]
    res = subprocess.run([sys.executable, "-m", "cockpit", "plan", "-c", str(path)], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode in (0, 1), res.stderr
    assert "analysis FAILED" in res.stdout
    assert "#5" in res.stdout and "FAIL" in res.stdout and 'version="v6"' in res.stdout
    report = subprocess.run([sys.executable, "-m", "cockpit", "report", "-c", str(path)], capture_output=True,
                            text=True, timeout=60, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert report.returncode == 0, report.stderr
    assert "| # | at | verdict | series |" in report.stdout and 'version="v6"' in report.stdout


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_the_tui_shows_the_running_gates_measurements(tmp_path: Path, prometheus: Prometheus, ns: str,
                                                             size: tuple[int, int]) -> None:
    from rich.text import Text
    from test_ui_pilot import until

    from screens.app import CockpitApp
    from screens.widgets.phase_panel import PhasePanel
    from screens.widgets.plan_detail import PlanDetail

    path = write(tmp_path, prometheus, [_cond(error_ratio(ns, "v6"), "< 0.1%")],
                 "interval = \"1m\"\ncount = 5\nfailure_limit = 2")
    session = await replay(path, prometheus.now - 240, 60, 3)  # -240 pass, -180 pass, -120 FAIL
    session.runbook.clock = lambda: prometheus.now - 130  # the next measurement is not due yet
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=size) as pilot:
        wide = size[0] >= 160
        if not wide:
            await pilot.press("3")  # the plan tab
        panel = app.dashboard.query_one("#phases-main" if wide else "#phases-tab", PhasePanel)
        # 30 s, not 10: measured 10-17 s per test at load 15 on 2 cores (startup and typing starved of CPU)
        await until(pilot, lambda: panel.row_count > 0 and "measure:canary:3" in [k for k, _ in panel._rows],
                    timeout=30)
        rows = dict(panel._rows)

        def text(key: str) -> str:
            return " ".join(c.plain if isinstance(c, Text) else str(c) for c in rows[key])

        assert "analysis running: 3 of 5 measurements, 1 failed (limit 2)" in text("analysis:canary")
        assert "gate measuring" in text("phase:canary")  # not decided: never called inconclusive or holding
        assert "pass" in text("measure:canary:1") and "#1" in text("measure:canary:1")
        assert "FAIL" in text("measure:canary:3") and '{version="v6"} = 0.0' in text("measure:canary:3")
        panel.focus()
        panel.move_cursor(row=[k for k, _ in panel._rows].index("measure:canary:3"))
        await pilot.pause(0.1)
        detail = app.dashboard.query_one("#plan-detail-main" if wide else "#plan-detail-tab", PlanDetail)
        await until(pilot, lambda: "FAILS" in str(detail.render()), timeout=30)
        assert 'version="v6"' in str(detail.render())


async def test_enter_on_an_inconclusive_analysis_retries_it_with_a_reason(tmp_path: Path, prometheus: Prometheus,
                                                                          ns: str) -> None:
    from test_ui_pilot import until

    from screens.app import CockpitApp
    from screens.widgets.phase_panel import PhasePanel

    path = write(tmp_path, prometheus, [_cond(error_ratio(ns, "v9"), "< 0.1%")], "interval = \"1m\"\ncount = 3")
    session = await replay(path, prometheus.now - 120, 60, 1)  # v9 has no series: inconclusive, limit 0
    assert (a := session.runbook.view().phases[0].analysis) is not None and a.state == "inconclusive"
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.dashboard.query_one("#phases-main", PhasePanel)
        await until(pilot, lambda: "analysis:canary" in [k for k, _ in panel._rows], timeout=30)
        panel.focus()
        panel.move_cursor(row=[k for k, _ in panel._rows].index("analysis:canary"))
        await pilot.press("enter")
        await pilot.press(*"v9 not deployed yet", "enter")
        await until(pilot, lambda: session.runbook.view().phases[0].gate is not None
                    and "retried by the operator (v9 not deployed yet)" in session.runbook.view().phases[0].gate.detail,
                    timeout=30)
    gates = Journal(tmp_path / "journal.sqlite", "test").open().gate_results("canary")
    assert "analysis retried by the operator (v9 not deployed yet): a new run starts" in gates[-1]["detail"]


async def test_the_runs_start_is_journaled_before_its_first_measurement(tmp_path: Path, prometheus: Prometheus,
                                                                         ns: str) -> None:
    """A headless `cockpit gate` that ends during initial_delay must not restart the clock of the run."""
    path = write(tmp_path, prometheus, [_cond(error_ratio(ns, "v2"), "< 0.1%")],
                 "interval = \"1m\"\ncount = 2\ninitial_delay = \"2m\"")
    first = await replay(path, prometheus.now - 180, 60, 1)  # started at -180, first measurement due at -60
    first.journal.release()  # type: ignore[union-attr]
    again = Session(load_config(path), "alice")
    a = again.runbook.view().phases[0].analysis
    assert a is not None and a.started == prometheus.now - 180 and a.measurements == ()
    again.runbook.clock = lambda: prometheus.now
    await again.runbook.evaluate_gates()
    a = again.runbook.view().phases[0].analysis
    assert a is not None and a.state == "passed" and [m.at - prometheus.now for m in a.measurements] == [-60, 0]


def test_headless_operator_retries_an_inconclusive_analysis_or_overrides_the_phase(tmp_path: Path,
                                                                                    prometheus: Prometheus,
                                                                                    ns: str) -> None:
    """What the TUI's Enter on an inconclusive gate offers, from a script: retry or override, each with a reason."""
    import asyncio

    gate = [_cond(error_ratio(ns, "v4", "5m"), "< 0.1%")]
    path = write(tmp_path, prometheus, gate, "interval = \"1m\"\ncount = 5\ninconclusive_limit = 1")
    session = asyncio.run(replay(path, prometheus.now - 180, 60, 5))
    session.journal.release()  # type: ignore[union-attr]

    def gate_cmd(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cockpit", "gate", "-c", str(path), *extra], capture_output=True,
                              text=True, timeout=60, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})

    res = gate_cmd("--retry-analysis", "canary")
    assert res.returncode == 2 and "--retry-analysis needs a reason" in res.stderr, res.stderr
    res = gate_cmd("--override", "nope", "--reason", "x")
    assert res.returncode == 2 and "no phase 'nope'" in res.stderr and "phases: canary" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    res = gate_cmd("--retry-analysis", "canary", "--reason", "v4 exporter restarted")
    assert res.returncode in (0, 1), res.stderr
    assert "analysis of canary restarted: v4 exporter restarted" in res.stdout
    res = gate_cmd("--override", "canary", "--reason", "v4 checked by hand in Grafana")
    assert res.returncode == 0, res.stderr
    with Journal(tmp_path / "journal.sqlite", "check", readonly=True) as j:
        details = [g["detail"] for g in j.gate_results("canary")]
        states = j.states()
    assert any("analysis retried by the operator (v4 exporter restarted)" in d for d in details), details
    assert states[("phase", "canary")] == "overridden"
