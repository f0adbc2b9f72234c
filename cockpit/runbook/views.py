"""What the runbook shows: immutable views of the plan, and the error every refused operation raises.

Screens and the CLI render :class:`PlanView` snapshots; they never reach into
:class:`cockpit.runbook.Runbook`'s state. Re-exported by :mod:`cockpit.runbook`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from cockpit.conditions import Verdict

VERIFY_POLL = 1.0  # seconds between verify attempts within `within`
DONE_PHASE = frozenset({"done", "overridden"})
DONE_STEP = frozenset({"done", "skipped"})


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


@dataclass(frozen=True)
class PhaseView:
    id: str
    title: str
    state: str  # locked open running holding done overridden rolled-back
    steps: tuple[StepView, ...]
    gate: Verdict | None = None
    hold: float = 0.0
    hold_since: float | None = None

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


@dataclass
class _StepState:
    state: str = "pending"
    checks: dict[str, HostCheck] = field(default_factory=dict)
    detail: str = ""
    action_id: int | None = None
    batch: str = ""
    waiting: str = ""
    progress: float | None = None
    ready: Verdict | None = None
    resume: asyncio.Event | None = None  # set by the operator to continue after a manual pause
    active: set[str] = field(default_factory=set)  # hosts of the batch running or verifying now
    at: float = 0.0  # when its state last changed (a quick rollback after it undoes it)
