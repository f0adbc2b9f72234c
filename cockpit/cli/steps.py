"""Headless runbook commands that act: step run/tick/skip, rollback, gate.

Only the lease holder runs anything: an observer is refused with the driver's
name. Output streams as ``[host] line`` while the action runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from cockpit.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    _confirm,
    _load,
    _need_runbook,
    _Printer,
    driving_session,
    outcome,
    render_plan,
    sudo_password,
)
from cockpit.engine import preview_command
from cockpit.errors import UsageError
from cockpit.inventory import select
from cockpit.plans import describe_changes
from cockpit.runbook import RunbookError, batches, ordered
from cockpit.sanitize import strip_control
from cockpit.secrets import SHOWN_MASK, Redactor
from cockpit.session import Session
from cockpit.shutdown import SignalStop, run_until_signal
from cockpit.spec import Config, StepSpec


def cmd_step(args: argparse.Namespace) -> int:
    config = _load(args)
    _need_runbook(config)
    try:
        phase, step = config.runbook.step(args.ref)
    except KeyError:
        refs = [f"{p.id}.{s.id}" for p in config.runbook.phases for s in p.steps]
        raise UsageError(f"no step {args.ref!r}", f"steps: {', '.join(refs)}") from None

    if args.step_cmd == "run" and args.dry_run:
        print(dry_run(config, args.ref), end="")
        return EXIT_OK
    password = sudo_password(args)

    async def run(stop: SignalStop) -> int:
        s = await driving_session(config, args, "run the step from the driving cockpit, or take over its stale "
                                  "lease there", password, stop)
        try:
            _plan_guard(s, args.accept_plan_change)
            if args.step_cmd == "skip":
                await s.runbook.skip_step(args.ref, args.reason)
                print(f"{args.ref} skipped: {args.reason}")
                return EXIT_OK
            if args.step_cmd == "tick":
                await s.engine.run_round()
                await s.runbook.tick_step(args.ref, args.host, not args.failed, args.note)
                print(render_plan(s.runbook.view()), end="")
                return EXIT_OK
            if step.confirm and not args.yes:
                lines = _fired_lines(config, step, s.runbook.step_hosts(step), s.engine.redactor)
                print("\n".join([f"{args.ref}: {strip_control(step.title)}", *lines]))
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
            rerun = args.rerun
            if rerun is None and (why := s.runbook.rerun_needed(args.ref)):
                print(f"{why}.")
                rerun = args.ref if _confirm(f"type {args.ref} to run it again:", args.ref) else None
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
            view = await s.runbook.run_step(args.ref, typed_id=typed, accept_not_ready=accept, rerun=rerun,
                                            rerun_done=args.rerun_done)
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

    return run_until_signal(run)


def dry_run(config: Config, ref: str) -> str:
    """What ``step run REF`` would fire, per batch and host, as the cockpit's confirmation shows it.

    Nothing is contacted and the journal is not opened, so what only they can say is named, not guessed.

    Raises:
        UsageError: a manual step (nothing to run).
        PlaceholderError: a placeholder value is not shell-safe on a host (a real run is refused too).
    """
    phase, step = config.runbook.step(ref)
    if step.run is None:
        raise UsageError(f"{ref} is manual: nothing to run",
                         f"tick it: cockpit step tick {ref} --note \"what was done\" [--host H]")
    redactor = Redactor(config.secrets)
    out = [f"dry run of {ref}: {strip_control(step.title)} (phase {phase.id}); nothing runs",
           *_fired_lines(config, step, redactor=redactor)]
    facts = [("sudo", "yes" if step.sudo else ""), ("detached", "yes" if step.detach else ""),
             ("verify", "; ".join(step.verify)),
             ("env (on its stdin)", ", ".join(f"{k}={redactor.redact(v, SHOWN_MASK)}" for k, v in step.env)),
             ("rollback", strip_control(redactor.redact(step.rollback, SHOWN_MASK)) if step.rollback else ""),
             ("irreversible", "yes: a real run asks for its id typed" if step.irreversible else "")]
    out += [f"{k}: {v}" for k, v in facts if v]
    out.append("not checked (the journal is not opened, no host is contacted): the lease, plan changes, rollback "
               "readiness, and hosts a real run skips because the step is done there under an earlier definition")
    return "\n".join(out) + "\n"


def _fired_lines(config: Config, step: StepSpec, names: list[str] | None = None,
                 redactor: Redactor | None = None) -> list[str]:
    """The hosts (``names``, else the step's selectors), then each host's command as it will fire
    (placeholders filled, secrets masked), per batch."""
    redactor = redactor or Redactor(config.secrets)
    if names is None:
        names = []
        for sel in step.on:
            names += [h.name for h in select(config.hosts, sel) if h.name not in names]
    hosts = ordered(step, names, config.hosts)
    plan = batches(step, hosts)
    out = [f"hosts ({len(hosts)}): {', '.join(hosts) or 'none'}"]
    for i, group in enumerate(plan):
        if len(plan) > 1:
            out.append(f"batch {i + 1}/{len(plan)}:")
        for h in group:
            out.append(f"  {h} $ {strip_control(preview_command(step.run or '', config.host(h), redactor))}")
    return out


def _plan_guard(s: Session, accept: str | None) -> None:
    """Refuse to decide under a plan the journal never accepted, naming what differs; or accept it (journaled)."""
    drift = s.plan_drift()
    if drift is None:
        return
    last, changes = drift
    what = describe_changes(changes) or "the plan's normalised text"
    if not accept:
        raise UsageError(f"the config differs from the plan last accepted in the journal ({last['new']}, accepted "
                         f"by {last['operator']} at {last['at_iso']}): {what}",
                         "check the change, then pass --accept-plan-change \"WHY\" (journaled), or restore the file")
    s.accept_plan(accept)
    print(f"plan change accepted ({last['new']} -> {s.plan.fingerprint}): {what}")


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

    password = sudo_password(args)

    async def run(stop: SignalStop) -> int:
        s = await driving_session(config, args, "roll back from the driver", password, stop)
        try:
            if args.retry_phase or args.close:
                if args.retry_phase:
                    await s.runbook.retry_phase(args.retry_phase, args.reason)
                    print(f"phase {args.retry_phase} reopened: its steps run again")
                if args.close:
                    await s.runbook.close_rolled_back(args.close)
                print(f"Outcome: {outcome(s.runbook.view())}")
                return EXIT_OK
            lost = s.runbook.no_return()
            if lost:
                print("WARNING: past a point of no return; this rollback cannot undo: " + "; ".join(lost))
            named = config.runbook.named_rollback(args.name)
            what = (f"step {args.step}" if args.step else f"phase {args.phase}" if args.phase
                    else named.title if named else f"rollback {args.name}")
            if not args.yes and not _confirm(f"roll back ({what})? type y:", "y"):
                raise UsageError("rollback needs confirmation", "answer y on a terminal, or pass --yes")
            s.engine.actions.listeners.append(_Printer())
            await s.engine.run_round()
            if args.step:
                ok = await s.runbook.rollback_step(args.step)
            elif args.phase:
                ok = await s.runbook.rollback_phase(args.phase)
            else:
                ok = bool((await s.runbook.quick_rollback(args.name)).ok)
            await s.runbook.give_reason(args.reason)
            state = s.runbook.view().rollback
            print(state.headline() if state is not None else f"{what}: {'ok' if ok else 'FAILED'}")
            return EXIT_OK if ok else EXIT_FAIL
        except (RunbookError, KeyError) as exc:
            raise UsageError(str(exc)) from None
        finally:
            await s.close()

    return run_until_signal(run)


def cmd_gate(args: argparse.Namespace) -> int:
    from cockpit.durations import parse_duration

    config = _load(args)
    _need_runbook(config)
    try:
        wait = parse_duration(args.wait)
    except ValueError as exc:
        raise UsageError(f"--wait {args.wait!r}: {exc}", "e.g. --wait 2m") from None

    if (args.override or args.retry_analysis) and not args.reason.strip():
        what = "--override" if args.override else "--retry-analysis"
        raise UsageError(f"{what} needs a reason", "add --reason \"...\": it goes into the journal and the report")

    async def run(stop: SignalStop) -> int:
        s = await driving_session(config, args, "judge gates from the driver", stop=stop)
        try:
            if args.override:  # the operator's decision, journaled with the reason; nothing is judged
                await s.runbook.override_phase(args.override, args.reason)
                print(f"phase {args.override} overridden: {args.reason}")
                return EXIT_OK
            if args.retry_analysis:
                await s.runbook.retry_analysis(args.retry_analysis, args.reason)
                print(f"analysis of {args.retry_analysis} restarted: {args.reason}")
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
        except KeyError as exc:
            raise UsageError(f"no phase {exc.args[0]!r}",
                             f"phases: {', '.join(p.id for p in config.runbook.phases)}") from None
        except RunbookError as exc:  # no analysis to retry, an observer, the lease gone
            raise UsageError(exc.message, exc.hint or "see `cockpit plan` for the phases and their state") from None
        finally:
            await s.close()

    return run_until_signal(run)
