"""``cockpit demo``: an embedded demo cutover on this machine, in the cockpit or headless.

Headless it plays the scenario on its own: baseline, canary 10 %, rollout 50 %, a fault injected
into v2, the regression seen, the quick rollback timed; then it writes a snapshot and the report.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

from cockpit.config import load_config
from cockpit.demo.env import DemoEnvironment
from cockpit.exports import Exporter
from cockpit.report import build_report
from cockpit.session import Session
from cockpit.shutdown import SignalStop, run_until_signal


class _Stop(Exception):
    """SIGTERM/SIGHUP (and SIGINT headless): leave through the same cleanup as a quit."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def run_demo(*, headless: bool, duration: float, out: Path, ssh: bool = True, operator: str = "demo") -> int:
    """Start the demo world, run the cockpit (or the headless scenario), and always clean up."""
    # _Stop covers starting and removing the demo's world (no event loop runs then). While the scenario
    # runs, signals go through the loop (cockpit.shutdown): _Stop raised there landed in whatever frame
    # ran at that instant, and inside a poller's task or an `except Exception` it was swallowed and the
    # scenario played to its end: exit 0 after SIGTERM (issue 13). The TUI reads Ctrl-C as a key.
    signals = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT) if headless else (signal.SIGTERM, signal.SIGHUP)
    old = {s: signal.signal(s, _raise_stop) for s in signals}
    try:
        with DemoEnvironment(ssh=ssh) as env:
            print(f"demo: local processes v1, v2, load balancer, db, worker under {env.dir}", flush=True)
            print(f"demo: {env.ssh_note or 'local transport only'}", flush=True)
            if headless:  # in the loop, a signal is a SignalStop, not our _Stop raised in any frame
                rc = run_until_signal(lambda stop: _scenario(env, duration, out, operator, stop))
                if rc > 128:
                    print(f"demo: stopped by {signal.Signals(rc - 128).name}; everything it started is gone",
                          file=sys.stderr)
                return rc
            return _tui(env, operator)
    except _Stop as stop:
        print(f"demo: stopped by {stop}; everything it started is gone", file=sys.stderr)
        return 128 + int(getattr(signal, str(stop), signal.SIGTERM))
    except KeyboardInterrupt:
        print("demo: interrupted; everything it started is gone", file=sys.stderr)
        return 130
    except TimeoutError as exc:
        print(f"demo: {exc}; everything it started is gone. Try a longer --duration "
              "(the scenario needs about 20-30 s on a small machine).", file=sys.stderr)
        return 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _tui(env: DemoEnvironment, operator: str) -> int:
    from screens.app import CockpitApp

    session = Session(load_config(env.config_path), operator)
    app = CockpitApp(session.engine, operator=operator, session=session)
    app.notify("Demo: b records the baseline, K ticks the step, 3 shows the plan, Enter runs a step; "
               "f injects a fault into v2, R rolls back, h heals v2.", timeout=20)
    result = app.run()
    rc = app.return_code or int(result or 0)
    if rc > 128:
        print(f"demo: stopped by {signal.Signals(rc - 128).name}; everything it started is gone", file=sys.stderr)
    return rc


async def _scenario(env: DemoEnvironment, duration: float, out: Path, operator: str, stop: SignalStop) -> int:
    """The demo played by itself within ``duration`` seconds."""
    deadline = time.monotonic() + duration
    s = Session(load_config(env.config_path), operator)
    stop.session = s
    rb = s.runbook
    log = lambda text: print(f"demo: {text}", flush=True)  # noqa: E731
    try:
        await s.start()
        await _until(lambda: all(h.reachable for h in s.engine.snapshot().hosts), deadline, 0.2)
        for _ in range(s.config.runbook.min_samples):  # the regression rule's samples for the baseline
            await s.engine.run_round()
        await rb.capture_baseline()
        await rb.tick_step("baseline.capture", None, True, "baseline captured by the demo")
        log("baseline captured")
        await _phase_done(s, "baseline", deadline)
        for phase, step in (("canary10", "split-10"), ("canary50", "split-50")):
            view = await rb.run_step(f"{phase}.{step}")
            log(f"{phase}.{step}: {view.state}")
            if phase == "canary10":
                await _phase_done(s, phase, deadline)
        run = await s.engine.actions.run("Inject fault into v2", _cmd(s, "fault"), ["cockpit"], timeout=10)
        log(f"fault injected into v2: {run.runs[0].output.strip()}")
        await _until(lambda: bool(rb.regressions()), deadline, 0.5)
        for r in rb.regressions():
            log(f"REGRESSION {r.line()}")
        current = rb.view().current or "decommission"  # canary50 may already have held its gate: the next one
        gate = await _gate_fails(s, current, deadline)
        log(f"{current} gate FAILS: {gate.detail}")
        rec = await rb.quick_rollback()
        await rb.give_reason("v2 regressed after the injected fault")
        state = rb.view().rollback
        log(f"quick rollback: {'ok' if rec.ok else 'FAILED'} in {rec.duration or 0:.1f}s "
            f"(budget {state.budget if state else s.config.runbook.rollback_budget:g}s)")
        if state is not None:
            log(state.headline())
        await s.engine.actions.run("Heal v2", _cmd(s, "heal"), ["cockpit"], timeout=10)
        snap = await s.engine.run_round()
        out.mkdir(parents=True, exist_ok=True)
        snap_path, report_path = out / "demo-snapshot.json", out / "demo-report.md"
        snap_path.write_text(Exporter(s.engine.redactor).json(snap))
        assert s.journal is not None
        report_path.write_text(build_report(s.config, s.journal, final=snap, history=s.engine.history,
                                            redactor=s.engine.redactor))
        print(json.dumps({"snapshot": str(snap_path), "report": str(report_path),
                          "rollback_seconds": round(rec.duration or 0, 3), "rollback_ok": rec.ok}), flush=True)
        return 0 if rec.ok else 1
    finally:
        await s.close()


def _cmd(s: Session, action: str) -> str:
    return next(a.run for a in s.config.actions if a.name == action)


async def _until(cond, deadline: float, every: float) -> None:  # type: ignore[no-untyped-def]
    while not cond():
        if time.monotonic() >= deadline:
            raise TimeoutError("the demo ran out of its --duration")
        await asyncio.sleep(every)


async def _gate_fails(s: Session, phase: str, deadline: float):  # type: ignore[no-untyped-def]
    """Until the phase's gate stops holding (the regression is there; the gate says so too)."""
    while True:
        await s.runbook.evaluate_gates()
        gate = next(p for p in s.runbook.view().phases if p.id == phase).gate
        if gate is not None and gate.value is False:
            return gate
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the {phase} gate did not fail within the demo's --duration")
        await asyncio.sleep(0.5)


async def _phase_done(s: Session, phase: str, deadline: float) -> None:
    async def done() -> bool:
        await s.runbook.evaluate_gates()
        return next(p for p in s.runbook.view().phases if p.id == phase).state in ("done", "overridden")

    while not await done():
        if time.monotonic() >= deadline:
            view = next(p for p in s.runbook.view().phases if p.id == phase)
            why = f" (gate: {view.gate.detail})" if view.gate is not None else ""
            raise TimeoutError(f"phase {phase} was not done within the demo's --duration{why}")
        await asyncio.sleep(0.5)
