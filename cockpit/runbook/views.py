"""What the runbook shows: immutable views of the plan, and the error every refused operation raises.

Screens and the CLI render :class:`PlanView` snapshots; they never reach into
:class:`cockpit.runbook.Runbook`'s state. Re-exported by :mod:`cockpit.runbook`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from cockpit.runbook.analysis import AnalysisView
from cockpit.conditions import Verdict

VERIFY_POLL = 1.0  # seconds between verify attempts within `within`
DONE_PHASE = frozenset({"done", "overridden"})
DONE_STEP = frozenset({"done", "skipped"})


def hhmm(at: float) -> str:
    """A journal time as the operator reads it in a message: local HH:MM, with the zone."""
    return time.strftime("%H:%M %Z", time.localtime(at))


@dataclass(frozen=True)
class HostCheck:
    host: str
    ok: bool | None  # None: not judged yet / inconclusive
    detail: str = ""


@dataclass(frozen=True)
class StepView:
    ref: str  # PHASE.STEP
    title: str
    state: str  # pending running verifying done failed partial skipped rolled-back interrupted
    hosts: tuple[str, ...]
    manual: bool
    checks: tuple[HostCheck, ...] = ()
    detail: str = ""
    action_id: int | None = None
    batch: str = ""  # "batch 2/3" while rolling
    waiting: str = ""  # a manual pause or a host coming back: what the step waits for
    progress: float | None = None  # 0..1 while waiting for hosts to come back
    irreversible: bool = False
    rollback_ready: bool | None = None  # None: not evaluated yet
    rollback_detail: str = ""
    changed: str = ""  # "changed since run (...): command: 'a' -> 'b'": its last run had another definition

    def reasons(self) -> tuple[str, ...]:
        """Why it is in its state, failing hosts first: one line each (the plan's detail, ``cockpit plan``)."""
        out = [self.detail] if self.detail and self.state not in DONE_STEP else []
        if self.waiting:
            out.append(self.waiting)
        if self.rollback_ready is False:
            out.append(f"rollback NOT READY: {self.rollback_detail}")
        if self.changed:
            out.append(self.changed)
        order = sorted(self.checks, key=lambda c: {False: 0, None: 1, True: 2}[c.ok])
        out += [f"{ {False: '✖', None: '…', True: '✔'}[c.ok]} {c.host}: {c.detail}" for c in order
                if c.ok is not True or self.state not in DONE_STEP]
        if not out and self.state == "pending":
            out.append("not run yet" + (" (manual: tick it when done)" if self.manual else ""))
        return tuple(out)


@dataclass(frozen=True)
class PhaseView:
    id: str
    title: str
    state: str  # locked open running holding failing done overridden rolled-back
    steps: tuple[StepView, ...]
    gate: Verdict | None = None
    hold: float = 0.0
    hold_since: float | None = None
    analysis: AnalysisView | None = None  # the gate's analysis run, when the phase has one and it started

    def reasons(self) -> tuple[str, ...]:
        """Why the phase is in its state: its gate's verdict (each failing condition), its hold, its steps."""
        if self.state in DONE_PHASE:
            return ()
        out = []
        if self.state == "locked":
            out.append("locked: an earlier phase is not done")
        if self.state == "rolled-back":
            out.append("rolled back: its gate and hold no longer count; retry the phase or close the cutover")
        if self.gate is not None and self.state != "rolled-back":
            word = {True: "gate holds", False: "gate FAILS", None: "gate inconclusive"}[self.gate.value]
            if self.analysis is not None and self.analysis.state == "running":
                word = "gate measuring"  # not decided yet: neither inconclusive nor holding
            parts = [p.strip() for p in self.gate.detail.split("; ") if p.strip()] or [""]
            out += [f"{word}: {p}" if p else word for p in parts]
        elif self.state not in ("locked", "rolled-back") and all(s.state in DONE_STEP for s in self.steps) and self.hold:
            out.append("gate not judged yet")
        left = self.hold_left
        if left is not None and self.gate is not None and self.gate.value is True:
            out.append(f"holding: {left:.0f}s of {self.hold:g}s left")
        pending = [s for s in self.steps if s.state not in DONE_STEP]
        if pending and self.state not in ("locked", "rolled-back"):
            out.append("steps not done: " + ", ".join(f"{s.ref.split('.', 1)[1]} ({s.state})" for s in pending))
        return tuple(out)

    @property
    def hold_left(self) -> float | None:
        if not self.hold or self.hold_since is None:
            return None
        return max(0.0, self.hold - (time.time() - self.hold_since))


@dataclass(frozen=True)
class RollbackRecord:
    title: str
    started: float
    ended: float | None
    ok: bool | None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class RemovedStep:
    """A step that ran but is no longer in the plan in use: what it last ran, when, by whom, under which plan."""

    ref: str
    title: str  # from the plan version it last ran under ("" when the journal does not keep it)
    state: str  # its last journaled state ("" when none)
    started: float  # its last run
    operator: str
    command: str
    plan: str | None  # the fingerprint of the plan its last run was made under (None: before plan versions)

    def what(self) -> str:
        """"last run 10:02 UTC by alice under plan 1a2b3c4d5e6f, done: echo other"."""
        under = f" under plan {self.plan}" if self.plan else ""
        state = f", {self.state}" if self.state else ""
        when = time.strftime("%H:%M %Z", time.localtime(self.started))
        return f"last run {when} by {self.operator}{under}{state}: {self.command}"

    def line(self) -> str:
        return f"{self.ref} ({self.what()})"


@dataclass(frozen=True)
class HostFailure:
    """One host a rollback (or an action) failed on, and why: exit status or signal, duration, stderr's tail."""

    host: str
    why: str  # "exit 3 after 0.2s; stderr: no such unit" / "old service legacy-api not up again within 30s"

    def line(self) -> str:
        return f"{self.host}: {self.why}"


@dataclass(frozen=True)
class RollbackState:
    """The cutover's rollback state (the last runbook-wide, step or phase rollback): what banners, the plan,
    ``cockpit plan`` and the report say. ``ok`` None: still running; False: ROLLBACK FAILED."""

    name: str  # "quick", "full", "step canary.split-10", "phase canary"
    title: str
    operator: str
    started: float
    ended: float | None
    ok: bool | None
    budget: float
    reason: str = ""  # asked after firing; optional
    undid: tuple[str, ...] = ()  # phase (or PHASE.STEP) ids it undid
    failures: tuple[HostFailure, ...] = ()
    closed: str = ""  # "closed as rolled back: REASON" once the operator closed the cutover
    journal_id: int | None = None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def running(self) -> bool:
        return self.ok is None

    @property
    def word(self) -> str:
        """The state in capitals, as the header, banners and headline say it."""
        return "ROLLING BACK" if self.ok is None else "ROLLED BACK" if self.ok else "ROLLBACK FAILED"

    def headline(self) -> str:
        """One line: ROLLING BACK / ROLLED BACK / ROLLBACK FAILED, which, when, by whom, why, time vs budget."""
        when = hhmm(self.started)
        who = f" by {self.operator}" if self.operator else ""
        why = f" ({self.reason})" if self.reason else " (no reason given)"
        if self.ok is None:
            return f"{self.word}: {self.title} since {when}{who}; budget {_short(self.budget)}"
        word = self.word
        took = self.duration or 0.0
        over = "" if took <= self.budget else " OVER BUDGET"
        fails = "" if self.ok else ": " + "; ".join(f.line() for f in self.failures)
        return (f"{word} at {when}{who}{why}; {self.title} {took:.1f} s of {_short(self.budget)} budget{over}"
                + fails)

    def outcome(self) -> str:
        """``cockpit plan`` and the report's Outcome line."""
        when = hhmm(self.started)
        who = self.operator or "?"
        why = f" ({self.reason})" if self.reason else ""
        took = f"{self.duration:.1f} s" if self.duration is not None else "running"
        head = self.word if self.ok is False else self.word.lower()
        tail = "" if self.ok is not False else ": " + "; ".join(f.line() for f in self.failures)
        closed = f"; {self.closed}" if self.closed else ""
        return f"{head} at {when} by {who}{why}; {self.title} {took} of {_short(self.budget)} budget{tail}{closed}"


def _short(seconds: float) -> str:
    """60 -> "1 m", 300 -> "5 m", 90 -> "90 s"."""
    return f"{seconds / 60:g} m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


@dataclass(frozen=True)
class PlanView:
    phases: tuple[PhaseView, ...]
    current: str | None  # id of the first phase not done
    regressions: tuple[str, ...] = ()
    rollbacks: tuple[RollbackRecord, ...] = ()
    budget: float = 60.0
    driver: str = ""  # who holds the lease ("" when no journal)
    observer: bool = False
    interrupted: tuple[str, ...] = ()  # actions that were running when a cockpit died
    banner: str = ""  # e.g. the journal is not writable
    plan_notice: tuple[str, ...] = ()  # an edit of the config on disk (diff or errors), a driver's newer plan
    removed: tuple[str, ...] = ()  # steps that ran but are no longer in the plan ("removed after running")
    removed_steps: tuple[RemovedStep, ...] = ()  # the same, for the plan view's rows
    baseline_at: float | None = None
    rollback: RollbackState | None = None  # the cutover is rolling back / rolled back / its rollback failed
    lease_lost: str = ""  # why this cockpit lost the driver's lease ("" while it holds it or never had it)


@dataclass
class _StepState:
    state: str = "pending"
    checks: dict[str, HostCheck] = field(default_factory=dict)
    detail: str = ""
    action_id: int | None = None
    group: int = 0  # the first batch's action id, while a rolling step runs (its later batches join it)
    batch: str = ""
    waiting: str = ""
    progress: float | None = None
    ready: Verdict | None = None
    resume: asyncio.Event | None = None  # set by the operator to continue after a manual pause
    active: set[str] = field(default_factory=set)  # hosts of the batch running or verifying now
    at: float = 0.0  # when its state last changed (a quick rollback after it undoes it)
