"""Headless runbook commands: plan, step run/tick/skip, baseline, diff, journal, report.

They share the TUI's journal (and its lease): a step run here is the same record
the cockpit shows, and only the lease holder runs anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from cockpit.errors import UsageError
from cockpit.exports import utc
from cockpit.runbook import PlanView, RunbookError
from cockpit.session import Session
from cockpit.spec import Config

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
GLYPH = {"done": "●", "overridden": "◍", "running": "◔", "verifying": "◔", "failed": "✖", "partial": "◐",
         "skipped": "↷", "rolled-back": "↶", "interrupted": "⚠", "pending": "○", "open": "○", "locked": "·",
         "holding": "◔"}


def add_parsers(sub: argparse._SubParsersAction, config_arg: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("plan", help="the runbook with the state of every phase and step")
    config_arg(p)
    p.add_argument("--json", action="store_true")

    s = sub.add_parser("step", help="run, tick or skip one runbook step headless (same journal as the cockpit)")
    ssub = s.add_subparsers(dest="step_cmd", required=True)
    r = ssub.add_parser("run", help="run PHASE.STEP: fire, stream output, verify per host")
    r.add_argument("ref", metavar="PHASE.STEP")
    r.add_argument("--yes", action="store_true", help="confirm a step marked confirm = true without asking")
    r.add_argument("--irreversible", metavar="PHASE.STEP",
                   help="run an irreversible step: repeat its id here (the typed confirmation)")
    r.add_argument("--rollback-not-ready", action="store_true",
                   help="run even though the step's rollback_requires do not hold")
    t = ssub.add_parser("tick", help="mark a manual step (or one host of it) done or failed")
    t.add_argument("ref", metavar="PHASE.STEP")
    t.add_argument("--host")
    t.add_argument("--note", required=True)
    t.add_argument("--failed", action="store_true")
    k = ssub.add_parser("skip", help="skip a step, with a reason")
    k.add_argument("ref", metavar="PHASE.STEP")
    k.add_argument("--reason", required=True)
    for q in (r, t, k):
        config_arg(q)
        q.add_argument("--operator")
    r.add_argument("--ask-sudo", action="store_true", help="ask once for the sudo password (memory only)")

    rb = sub.add_parser("rollback", help="the quick rollback (default), or one step's or phase's rollback")
    config_arg(rb)
    rb.add_argument("--step", metavar="PHASE.STEP")
    rb.add_argument("--phase", metavar="PHASE")
    rb.add_argument("--yes", action="store_true")
    rb.add_argument("--operator")
    rb.add_argument("--ask-sudo", action="store_true", help="ask once for the sudo password (memory only)")

    g = sub.add_parser("gate", help="judge the current phase's gate (and hold) now; mark the phase done when it holds")
    config_arg(g)
    g.add_argument("--wait", default="0", help="keep judging up to this long (e.g. 2m) until the phase is done")
    g.add_argument("--operator")

    b = sub.add_parser("baseline", help="one round, recorded as the baseline to compare against")
    config_arg(b)
    b.add_argument("--operator")
    d = sub.add_parser("diff", help="baseline vs now, per host and service")
    config_arg(d)
    d.add_argument("--json", action="store_true")
    j = sub.add_parser("journal", help="what the journal holds, oldest first")
    config_arg(j)
    j.add_argument("--tail", action="store_true", help="keep printing new records until interrupted")
    j.add_argument("--json", action="store_true", help="one JSON object per line")
    j.add_argument("-n", type=int, default=0, help="only the last N records")
    o = sub.add_parser("report", help="the cutover report (Markdown) from the journal")
    config_arg(o)
    o.add_argument("-o", "--output")


def _operator(args: argparse.Namespace) -> str:
    from cockpit.cli import operator_name

    return operator_name(getattr(args, "operator", None))


def _load(args: argparse.Namespace) -> Config:
    from cockpit.cli import _config_path
    from cockpit.config import load_config

    return load_config(_config_path(args))


def _need_runbook(config: Config) -> None:
    if not config.runbook.phases:
        raise UsageError(f"{config.path} has no runbook", "add [[phases]] with [[phases.steps]] (docs/config.md)")


def render_plan(view: PlanView) -> str:
    lines = []
    for ph in view.phases:
        hold = ""
        if ph.hold:
            left = ph.hold_left
            hold = f"  hold {ph.hold:g}s" + (f", {left:.0f}s left" if left is not None else "")
        gate = ""
        if ph.gate is not None:
            mark = {True: "holds", False: "FAILS", None: "inconclusive"}[ph.gate.value]
            gate = f"  gate {mark}: {ph.gate.detail}"
        lines.append(f"{GLYPH.get(ph.state, '?')} {ph.id}  {ph.title}  [{ph.state}]{hold}{gate}")
        for st in ph.steps:
            who = "manual" if st.manual else ", ".join(st.hosts)
            lines.append(f"    {GLYPH.get(st.state, '?')} {st.ref}  {st.title}  [{st.state}]  on {who}"
                         + (f"  {st.detail}" if st.detail else ""))
            for c in st.checks:
                mark = {True: "✔", False: "✖", None: "…"}[c.ok]
                lines.append(f"        {mark} {c.host}: {c.detail}")
    if view.driver:
        lines.append(("observer; driver: " if view.observer else "driver: ") + view.driver)
    for line in view.interrupted:
        lines.append(f"⚠ interrupted: {line}")
    for line in view.regressions:
        lines.append(f"REGRESSION {line}")
    return "\n".join(lines) + "\n"


def cmd_plan(args: argparse.Namespace) -> int:
    config = _load(args)
    _need_runbook(config)

    async def run() -> PlanView:
        s = Session(config, _operator(args), drive=False, read_only=True)
        try:
            return s.runbook.view()
        finally:
            await s.close()

    view = asyncio.run(run())
    if args.json:
        print(json.dumps([{"id": p.id, "title": p.title, "state": p.state,
                           "steps": [{"ref": s.ref, "title": s.title, "state": s.state} for s in p.steps]}
                          for p in view.phases], indent=2))
    else:
        sys.stdout.write(render_plan(view))
    return EXIT_OK


def _confirm(prompt: str, expected: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{prompt} ").strip() == expected
    except EOFError:
        return False


class _Printer:
    """Streams an action's output as ``[host] line`` (already sanitised and redacted)."""

    def __init__(self) -> None:
        self.partial: dict[str, str] = {}

    def action_changed(self, run: Any) -> None:
        for r in run.runs:
            if r.state in ("ok", "failed", "timeout", "cancelled", "error") and r.host in self.partial:
                rest = self.partial.pop(r.host)
                if rest:
                    print(f"[{r.host}] {rest}")

    def action_output(self, action_id: int, host: str, text: str) -> None:
        buf = self.partial.get(host, "") + text
        *lines, rest = buf.split("\n")
        for line in lines:
            print(f"[{host}] {line}")
        self.partial[host] = rest
        sys.stdout.flush()


def cmd_step(args: argparse.Namespace) -> int:
    config = _load(args)
    _need_runbook(config)
    try:
        phase, step = config.runbook.step(args.ref)
    except KeyError:
        refs = [f"{p.id}.{s.id}" for p in config.runbook.phases for s in p.steps]
        raise UsageError(f"no step {args.ref!r}", f"steps: {', '.join(refs)}") from None

    password = None
    if getattr(args, "ask_sudo", False):
        from cockpit.cli import ask_sudo_password

        password = ask_sudo_password()

    async def run() -> int:
        s = Session(config, _operator(args))
        if password is not None:
            s.engine.actions.set_sudo_password(password)
        try:
            if s.observer:
                raise UsageError(f"this is an observer: {s.runbook.driver} drives the runbook",
                                 "run the step from the driving cockpit, or take over its stale lease there")
            if args.step_cmd == "skip":
                s.runbook.skip_step(args.ref, args.reason)
                print(f"{args.ref} skipped: {args.reason}")
                return EXIT_OK
            if args.step_cmd == "tick":
                await s.engine.run_round()
                await s.runbook.tick_step(args.ref, args.host, not args.failed, args.note)
                print(render_plan(s.runbook.view()), end="")
                return EXIT_OK
            if step.confirm and not args.yes:
                hosts = s.runbook.step_hosts(step)
                print(f"{args.ref}: {step.title}\n  on {', '.join(hosts)}\n  $ {s.engine.redactor.redact(step.run or '')}")
                if not _confirm("type y to run it:", "y"):
                    raise UsageError(f"{args.ref} needs confirmation", "answer y on a terminal, or pass --yes")
            if step.run is None:
                raise UsageError(f"{args.ref} is manual: nothing to run",
                                 f"tick it: cockpit step tick {args.ref} --note \"what was done\" [--host H]")
            s.engine.actions.listeners.append(_Printer())
            await s.engine.run_round()
            typed = args.irreversible
            if step.irreversible and typed is None:
                print(f"{args.ref} is IRREVERSIBLE: a point of no return.")
                typed = args.ref if _confirm(f"type {args.ref} to run it:", args.ref) else None
                if typed is None:
                    raise UsageError(f"{args.ref} is irreversible", f"type its id, or pass --irreversible {args.ref}")
            accept = args.rollback_not_ready
            if not accept and s.runbook.rollback_conditions(args.ref):
                ready = await s.runbook.rollback_readiness(args.ref)
                print(f"rollback {'READY' if ready.value is True else 'NOT READY'}: {ready.detail}")
                if ready.value is not True:
                    accept = _confirm("type NOT READY to run it anyway:", "NOT READY")
                    if not accept:
                        raise UsageError(f"the rollback of {args.ref} is NOT READY",
                                         "fix what it needs, or pass --rollback-not-ready")
            if step.pause == "manual":
                if not sys.stdin.isatty():
                    raise UsageError(f"{args.ref} pauses for the operator between batches",
                                     "run it from the cockpit or a terminal, or set pause to a duration")
                asyncio.get_running_loop().add_reader(sys.stdin, lambda: _continue(s, args.ref))
            view = await s.runbook.run_step(args.ref, typed_id=typed, accept_not_ready=accept)
            for c in view.checks:
                print(f"{'✔' if c.ok else '✖'} {c.host}: {c.detail}")
            print(f"{args.ref}: {view.state}" + (f" ({view.detail})" if view.detail else ""))
            await s.runbook.evaluate_gates()  # the phase may be done now
            ph = next(p for p in s.runbook.view().phases if p.id == phase.id)
            print(f"phase {ph.id}: {ph.state}" + (f", gate: {ph.gate.detail}" if ph.gate is not None else ""))
            return EXIT_OK if view.state == "done" else EXIT_FAIL
        except RunbookError as exc:
            raise UsageError(exc.message, exc.hint) from None
        finally:
            await s.close()

    return asyncio.run(run())


def _continue(s: Session, ref: str) -> None:
    sys.stdin.readline()
    try:
        s.runbook.continue_step(ref)
        print("continuing with the next batch")
    except RunbookError:
        print("(nothing is paused)")


def cmd_rollback(args: argparse.Namespace) -> int:
    config = _load(args)
    _need_runbook(config)

    password = None
    if getattr(args, "ask_sudo", False):
        from cockpit.cli import ask_sudo_password

        password = ask_sudo_password()

    async def run() -> int:
        s = Session(config, _operator(args))
        if password is not None:
            s.engine.actions.set_sudo_password(password)
        try:
            if s.observer:
                raise UsageError(f"this is an observer: {s.runbook.driver} drives", "roll back from the driver")
            lost = s.runbook.no_return()
            if lost:
                print("WARNING: past a point of no return; this rollback cannot undo: " + "; ".join(lost))
            what = f"step {args.step}" if args.step else f"phase {args.phase}" if args.phase else "quick rollback"
            if not args.yes and not _confirm(f"roll back ({what})? type y:", "y"):
                raise UsageError("rollback needs confirmation", "answer y on a terminal, or pass --yes")
            s.engine.actions.listeners.append(_Printer())
            await s.engine.run_round()
            started = time.time()
            if args.step:
                ok = await s.runbook.rollback_step(args.step)
            elif args.phase:
                ok = await s.runbook.rollback_phase(args.phase)
            else:
                ok = bool((await s.runbook.quick_rollback()).ok)
            took = time.time() - started
            budget = config.runbook.rollback_budget
            print(f"{what}: {'ok' if ok else 'FAILED'} in {took:.1f}s "
                  f"({'within' if took <= budget else 'OVER'} the {budget:g}s budget)")
            return EXIT_OK if ok else EXIT_FAIL
        except (RunbookError, KeyError) as exc:
            raise UsageError(str(exc)) from None
        finally:
            await s.close()

    return asyncio.run(run())


def cmd_gate(args: argparse.Namespace) -> int:
    from cockpit.durations import parse_duration

    config = _load(args)
    _need_runbook(config)
    try:
        wait = parse_duration(args.wait)
    except ValueError as exc:
        raise UsageError(f"--wait {args.wait!r}: {exc}", "e.g. --wait 2m") from None

    async def run() -> int:
        s = Session(config, _operator(args))
        try:
            if s.observer:
                raise UsageError(f"this is an observer: {s.runbook.driver} drives", "judge gates from the driver")
            deadline = time.monotonic() + wait
            start = s.runbook.view().current
            while True:
                await s.engine.run_round()
                await s.runbook.evaluate_gates()
                view = s.runbook.view()
                ph = next((p for p in view.phases if p.id == start), None)
                if ph is None or ph.state in ("done", "overridden") or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(min(1.0, config.cockpit.interval))
            sys.stdout.write(render_plan(view))
            return EXIT_OK if ph is None or ph.state in ("done", "overridden") else EXIT_FAIL
        finally:
            await s.close()

    return asyncio.run(run())


def cmd_baseline(args: argparse.Namespace) -> int:
    config = _load(args)

    async def run() -> dict[str, Any]:
        s = Session(config, _operator(args))
        try:
            if s.observer:
                raise UsageError(f"this is an observer: {s.runbook.driver} drives", "capture it from the driver")
            await s.engine.run_round()
            return s.runbook.capture_baseline()
        except RunbookError as exc:
            raise UsageError(exc.message, exc.hint) from None
        finally:
            await s.close()

    base = asyncio.run(run())
    n = sum(len(h["services"]) for h in base["hosts"].values())
    up = sum(1 for h in base["hosts"].values() for v in h["services"].values() if v["status"] == "up")
    print(f"baseline recorded at {utc(base['at'])}: {len(base['hosts'])} hosts, {up}/{n} services up")
    return EXIT_OK


async def regressions_now(config: Config) -> tuple[Session, list[Any], list[dict[str, Any]]]:
    """Enough rounds to judge regressions (regression_rounds of them), then the diff rows."""
    from cockpit.baseline import diff_rows

    s = Session(config, "check", drive=False, read_only=True)
    base = s.journal.latest_baseline() if s.journal is not None else None
    if base is None:
        await s.close()
        raise UsageError("no baseline in the journal", "record one first: cockpit baseline -c FILE (or b in the cockpit)")
    rounds = config.runbook.regression_rounds
    snap = None
    for i in range(rounds):
        snap = await s.engine.run_round()
        if i + 1 < rounds:
            await asyncio.sleep(min(1.0, config.cockpit.interval))
    assert snap is not None
    regs = s.runbook.regressions()
    rows = diff_rows(base[2], snap, s.engine.history, config.runbook.window, regs)
    return s, regs, rows


def cmd_diff(args: argparse.Namespace) -> int:
    config = _load(args)

    async def run() -> list[dict[str, Any]]:
        s, _regs, rows = await regressions_now(config)
        await s.close()
        return rows

    rows = asyncio.run(run())
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    head = ("host", "service", "baseline", "now", "base p95", "now p95", "regression")
    table = [head] + [(r["host"], r["service"], r["baseline"], r["now"],
                       "–" if r["baseline_p95_ms"] is None else f"{r['baseline_p95_ms']:.0f}ms",
                       "–" if r["now_p95_ms"] is None else f"{r['now_p95_ms']:.0f}ms", r["regression"]) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return EXIT_OK


def cmd_journal(args: argparse.Namespace) -> int:
    from cockpit.journal import Journal

    config = _load(args)
    path = config.cockpit.journal
    if path is None or not path.exists():
        raise UsageError(f"no journal at {path}", "it is created when the cockpit or a step first runs")
    j = Journal(path, "reader", readonly=True).open()
    try:
        since = max(0, j.last_id() - args.n) if args.n else 0
        while True:
            for e in j.timeline(since):
                since = e["id"]
                print(json.dumps(e, default=str) if args.json else _journal_line(e))
            sys.stdout.flush()
            if not args.tail:
                return EXIT_OK
            time.sleep(1.0)
    finally:
        j.close()


def _journal_line(e: dict[str, Any]) -> str:
    kind = e["kind"]
    what = {k: v for k, v in e.items() if k not in ("id", "kind", "at", "at_iso", "operator") and v not in (None, "")}
    if kind == "action":
        text = f"action {what.get('title')} on {', '.join(what.get('hosts', []))}: {what.get('command')}"
    elif kind == "transition":
        text = f"{what.get('target_kind')} {what.get('target')} -> {what.get('state')}" + (
            f" ({what['reason']})" if what.get("reason") else "")
    else:
        text = kind + " " + " ".join(f"{k}={v}" for k, v in what.items() if k != "data")[:200]
    return f"{e['at_iso']}  {e.get('operator', '')}  {text}"


def cmd_report(args: argparse.Namespace) -> int:
    from cockpit.report import build_report

    config = _load(args)

    async def run() -> str:
        s = Session(config, _operator(args), drive=False, read_only=True)
        try:
            if s.journal is None:
                raise UsageError(f"no journal at {config.cockpit.journal}", "run the cutover first")
            final = await s.engine.run_round()
            return build_report(config, s.journal, final=final, history=s.engine.history, redactor=s.engine.redactor)
        finally:
            await s.close()

    text = asyncio.run(run())
    if args.output:
        from cockpit.cli import _write_atomic

        _write_atomic(Path(args.output), text)
        print(f"report written to {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


COMMANDS = {"plan": cmd_plan, "step": cmd_step, "gate": cmd_gate, "rollback": cmd_rollback, "baseline": cmd_baseline, "diff": cmd_diff,
            "journal": cmd_journal, "report": cmd_report}
