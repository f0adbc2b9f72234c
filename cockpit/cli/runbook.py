"""Headless runbook commands: plan, step run/tick/skip, baseline, diff, journal, report.

They share the TUI's journal (and its lease): a step run here is the same record
the cockpit shows, and only the lease holder runs anything.

Here: the parsers, and the commands that only read or record (plan, baseline,
diff, journal, report); the ones that act (step, rollback, gate) are in
:mod:`cockpit.cli.steps`, the shared helpers in :mod:`cockpit.cli.common`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from cockpit.cli.common import (
    EXIT_OK,
    _load,
    _need_runbook,
    _operator,
    driving_session,
    plan_json,
    render_plan,
    write_atomic,
)
from cockpit.cli.steps import cmd_gate, cmd_rollback, cmd_step
from cockpit.baseline import RULE_MIN_SAMPLES
from cockpit.errors import UsageError
from cockpit.exports import utc
from cockpit.runbook import PlanView, RunbookError
from cockpit.sanitize import one_line
from cockpit.session import Session
from cockpit.spec import Config

__all__ = ["COMMANDS", "add_parsers", "cmd_baseline", "cmd_diff", "cmd_journal", "cmd_plan", "cmd_report", "regressions_now"]


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
    r.add_argument("--rerun", metavar="PHASE.STEP",
                   help="run a step again whose last run was interrupted or that is done: repeat its id here")
    r.add_argument("--rerun-done", action="store_true",
                   help="also re-run the hosts where the step is done under an earlier definition (by default "
                        "a changed step runs on the remaining hosts only)")
    r.add_argument("--dry-run", action="store_true",
                   help="print the command each host would run (placeholders filled, secrets as ••••), batch by "
                        "batch, and exit: no host is contacted and the journal is not opened")
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
        q.add_argument("--accept-plan-change", metavar="REASON",
                       help="the config differs from the plan last accepted in the journal: accept it (journaled)")
    r.add_argument("--ask-sudo", action="store_true", help="ask once for the sudo password (memory only)")

    rb = sub.add_parser("rollback", help="the first [rollback.NAME] (default), another by --name, one step's or "
                                         "phase's rollback; or retry a rolled-back phase, or close as rolled back")
    config_arg(rb)
    rb.add_argument("--name", metavar="NAME", help="fire [rollback.NAME] (e.g. full) instead of the first one")
    rb.add_argument("--step", metavar="PHASE.STEP")
    rb.add_argument("--phase", metavar="PHASE")
    rb.add_argument("--reason", default="", help="why (journaled after it fired; optional)")
    rb.add_argument("--retry-phase", metavar="PHASE", help="reopen a rolled-back phase: its steps run again")
    rb.add_argument("--close", metavar="REASON", help="close the cutover as rolled back, with the reason")
    rb.add_argument("--yes", action="store_true")
    rb.add_argument("--operator")
    rb.add_argument("--ask-sudo", action="store_true", help="ask once for the sudo password (memory only)")

    g = sub.add_parser("gate", help="judge the current phase's gate (and hold) now; mark the phase done when it holds")
    config_arg(g)
    g.add_argument("--wait", default="0", help="keep judging up to this long (e.g. 2m) until the phase is done")
    g.add_argument("--override", metavar="PHASE",
                   help="count PHASE done without its gate (an inconclusive analysis, a manual gate); needs --reason")
    g.add_argument("--retry-analysis", metavar="PHASE",
                   help="start PHASE's analysis over after an inconclusive or failed run; needs --reason")
    g.add_argument("--reason", default="", help="why (journaled with the override or the retry)")
    g.add_argument("--operator")

    b = sub.add_parser("baseline", help="enough rounds for the regression rule, recorded as the baseline")
    config_arg(b)
    b.add_argument("--operator")
    b.add_argument("--rounds", type=int, help=ROUNDS_HELP)
    d = sub.add_parser("diff", help="baseline vs now, per host and service")
    config_arg(d)
    d.add_argument("--json", action="store_true")
    d.add_argument("--rounds", type=int, help=ROUNDS_HELP)
    j = sub.add_parser("journal", help="what the journal holds, oldest first; `journal copy` copies one into another")
    config_arg(j)
    j.add_argument("copy", nargs="?", choices=["copy"], help="copy --from JOURNAL --to JOURNAL (a file or a URL)")
    j.add_argument("--from", dest="copy_from", metavar="JOURNAL", help="copy: the journal to read (file or URL)")
    j.add_argument("--to", dest="copy_to", metavar="JOURNAL", help="copy: the journal to write (file or URL)")
    j.add_argument("--tail", action="store_true", help="keep printing new records until interrupted")
    j.add_argument("--json", action="store_true", help="one JSON object per line")
    j.add_argument("-n", type=int, default=0, help="only the last N records")
    o = sub.add_parser("report", help="the cutover report (Markdown) from the journal")
    config_arg(o)
    o.add_argument("-o", "--output")


def cmd_plan(args: argparse.Namespace) -> int:
    config = _load(args)
    _need_runbook(config)

    async def run() -> PlanView:
        s = Session(config, _operator(args), drive=False, read_only=True)
        try:
            if s.journal_error is not None:  # a plan without its journal would show done steps as pending
                raise s.journal_error
            return s.runbook.view()
        finally:
            await s.close()

    view = asyncio.run(run())
    if args.json:
        print(json.dumps(plan_json(view), indent=2))
    else:
        sys.stdout.write(render_plan(view))
    return EXIT_OK


def cmd_baseline(args: argparse.Namespace) -> int:
    config = _load(args)
    rounds = rounds_wanted(args, config)

    async def run() -> dict[str, Any]:
        s = await driving_session(config, args, "capture it from the driver")
        try:
            await sample_rounds(s, rounds, "baseline")
            return await s.runbook.capture_baseline()
        except RunbookError as exc:
            raise UsageError(exc.message, exc.hint) from None
        finally:
            await s.close()

    base = asyncio.run(run())
    n = sum(len(h["services"]) for h in base["hosts"].values())
    up = sum(1 for h in base["hosts"].values() for v in h["services"].values() if v["status"] == "up")
    print(f"baseline recorded at {utc(base['at'])}: {len(base['hosts'])} hosts, {up}/{n} services up")
    return EXIT_OK


ROUNDS_HELP = ("rounds to sample first (default: [runbook] min_samples, 20 unless set: the latency samples "
               "the regression rule needs per host and service; fewer leave series inconclusive)")


def rounds_wanted(args: argparse.Namespace, config: Config) -> int:
    rounds = getattr(args, "rounds", None)
    if rounds is None:
        return config.runbook.min_samples
    if rounds < 1:
        raise UsageError(f"--rounds {rounds}: at least one round is needed", f"e.g. --rounds {RULE_MIN_SAMPLES}")
    return int(rounds)


async def sample_rounds(s: Session, rounds: int, what: str) -> Any:
    """``rounds`` rounds a second apart (or the interval, if shorter), with progress on stderr; the last snapshot.

    An answer whose timing was not counted (the cockpit stalled while timing it) leaves its series a sample
    short: up to ``rounds`` more rounds make those series whole, so a baseline never ends a sample short
    of what the regression rule needs because of the cockpit's own load.
    """
    snap = None
    interval = min(1.0, s.engine.config.cockpit.interval)
    timed: dict[tuple[str, str], int] = {}
    short: set[tuple[str, str]] = set()
    i = 0
    while i < rounds or (short and i < 2 * rounds):
        if i:
            await asyncio.sleep(interval)
        snap = await s.engine.run_round()
        i += 1
        for h in snap.hosts:
            for r in h.results:
                key = (h.name, r.service)
                if r.latency is not None:
                    timed[key] = timed.get(key, 0) + 1
                elif r.get("timing"):
                    short.add(key)
        short = {k for k in short if timed.get(k, 0) < rounds}
        more = f" ({len(short)} series short of timed samples: one more round)" if i >= rounds and short else ""
        print(f"{what}: round {i}/{rounds}{more}", file=sys.stderr, flush=True)
    return snap


async def regressions_now(config: Config, rounds: int | None = None) -> tuple[Session, list[Any], list[dict[str, Any]]]:
    """Enough rounds to judge regressions, then the diff rows (an unjudged series says so in its row).

    Down-state regressions need ``regression_rounds``; latency ones ``[runbook] min_samples`` samples a side.
    """
    from cockpit.baseline import diff_rows

    s = Session(config, "check", drive=False, read_only=True)
    base = s.journal.latest_baseline() if s.journal is not None else None
    if base is None:
        await s.close()
        raise UsageError("no baseline in the journal", "record one first: cockpit baseline -c FILE (or b in the cockpit)")
    rounds = max(config.runbook.regression_rounds, config.runbook.min_samples if rounds is None else rounds)
    snap = await sample_rounds(s, rounds, "sampling")
    regs = s.runbook.regressions()
    rows = diff_rows(base[2], snap, s.engine.history, config.runbook.window,
                     [*regs, *s.runbook.tracker.non_critical], s.runbook.tracker.undecided())
    return s, regs, rows


def cmd_diff(args: argparse.Namespace) -> int:
    config = _load(args)

    async def run() -> list[dict[str, Any]]:
        s, _regs, rows = await regressions_now(config, rounds_wanted(args, config))
        await s.close()
        return rows

    rows = asyncio.run(run())
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    head = ("host", "service", "baseline", "now", "base p95", "now p95", "regression")
    table = [head] + [(r["host"], r["service"], r["baseline"], r["now"],
                       "–" if r["baseline_p95_ms"] is None else f"{r['baseline_p95_ms']:.0f}ms",
                       "–" if r["now_p95_ms"] is None else f"{r['now_p95_ms']:.0f}ms",
                       r["regression"] or (f"planned: expected {r['expected']}" if r["expected"] else ""))
                      for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return EXIT_OK


def cmd_journal(args: argparse.Namespace) -> int:
    from cockpit.journal import journal_exists, open_journal

    if args.copy:
        return _journal_copy(args)
    config = _load(args)
    settings = config.journal
    if settings.target is None or not journal_exists(settings.target):
        raise UsageError(f"no journal at {settings.path}", "it is created when the cockpit or a step first runs")
    j = open_journal(settings.target, "reader", readonly=True)
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


def _journal_copy(args: argparse.Namespace) -> int:
    """``cockpit journal copy --from A --to B``: idempotent; verified (counts and last rows)."""
    from cockpit.journal import copy_journal, display_url, is_url, open_journal

    if not args.copy_from or not args.copy_to:
        raise UsageError("journal copy needs --from and --to", "e.g. cockpit journal copy --from cutover.sqlite "
                         "--to postgresql://cockpit@db/cutover")
    src_target = args.copy_from if is_url(args.copy_from) else Path(args.copy_from)
    if isinstance(src_target, Path) and not src_target.exists():
        raise UsageError(f"no journal at {src_target}", "give the path of an existing journal file")
    dst_target = args.copy_to if is_url(args.copy_to) else Path(args.copy_to)
    src = open_journal(src_target, "copy", readonly=True)
    try:
        dst = open_journal(dst_target, _operator(args))
        try:
            added = copy_journal(src, dst)
        finally:
            dst.close()
    finally:
        src.close()
    total = sum(added.values())
    print(f"copied {total} new rows from {display_url(str(src_target))} to {display_url(str(dst_target))}; "
          "counts and last entries verified")
    return EXIT_OK


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
    # an older journal may hold raw text: no escape reaches the terminal, and one entry stays one line
    return f"{e['at_iso']}  {one_line(str(e.get('operator', '')), 80)}  {one_line(text, 10_000)}"


def cmd_report(args: argparse.Namespace) -> int:
    from cockpit.report import build_report

    config = _load(args)

    async def run() -> str:
        s = Session(config, _operator(args), drive=False, read_only=True)
        try:
            if s.journal_error is not None:
                raise s.journal_error
            if s.journal is None:
                raise UsageError(f"no journal at {config.journal.target}", "run the cutover first")
            final = await s.engine.run_round()
            return build_report(config, s.journal, final=final, history=s.engine.history, redactor=s.engine.redactor)
        finally:
            await s.close()

    text = asyncio.run(run())
    if args.output:
        write_atomic(Path(args.output), text)
        print(f"report written to {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


COMMANDS = {"plan": cmd_plan, "step": cmd_step, "gate": cmd_gate, "rollback": cmd_rollback, "baseline": cmd_baseline, "diff": cmd_diff,
            "journal": cmd_journal, "report": cmd_report}
