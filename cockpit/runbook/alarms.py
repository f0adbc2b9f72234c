"""Events from two consecutive plan views: the one rule for what rings the bell, pages a webhook,
silences Alertmanager or annotates Grafana, so the screen and the outside world never disagree.

Pure: (old view, new view) -> events. The first view a cockpit sees is a starting point, not news.
"""

from __future__ import annotations

from cockpit.notify import Event
from cockpit.runbook.views import PlanView

_ENDED = frozenset({"done", "failed", "partial", "skipped", "interrupted"})


def events_between(old: PlanView | None, new: PlanView) -> list[Event]:
    """What changed from ``old`` to ``new``, alarms first; nothing when ``old`` is None."""
    if old is None:
        return []
    return _alarms(old, new) + _moments(old, new)


def alarms_between(old: PlanView | None, new: PlanView) -> list[Event]:
    """Only the alarms (the terminal bell)."""
    return [e for e in events_between(old, new) if e.alarm]


def _alarms(old: PlanView, new: PlanView) -> list[Event]:
    out = [Event("regression", f"REGRESSION {line}", detail=line) for line in new.regressions
           if line not in old.regressions]
    before = {p.id: p.gate for p in old.phases}
    for p in new.phases:
        was = before.get(p.id)
        if p.gate is not None and p.gate.value is False and (was is None or was.value is not False):
            out.append(Event("gate-failed", f"gate of {p.id} FAILS: {p.gate.detail}", p.id, p.gate.detail, p.state))
    rb, was_rb = new.rollback, old.rollback
    if rb is not None and rb.ok is not None and (was_rb is None or was_rb.started != rb.started or was_rb.ok is None):
        if rb.ok is False:
            out.append(Event("rollback-failed", rb.headline(), rb.name, "; ".join(f.line() for f in rb.failures),
                             "failed"))
        if (rb.duration or 0.0) > rb.budget:
            out.append(Event("rollback-timeout", f"{rb.title} took {rb.duration:.1f} s of a {rb.budget:g} s budget",
                             rb.name, rb.headline(), "over budget"))
    if new.lease_lost and not old.lease_lost:
        out.append(Event("lease-lost", f"LEASE LOST: {new.lease_lost}", detail=new.lease_lost))
    return out


def _moments(old: PlanView, new: PlanView) -> list[Event]:
    out: list[Event] = []
    was_phase = {p.id: p.state for p in old.phases}
    was_step = {s.ref: s.state for p in old.phases for s in p.steps}
    for p in new.phases:
        for s in p.steps:
            before = was_step.get(s.ref, "pending")
            if s.state == before:
                continue
            if s.state == "running" and before not in ("running", "verifying"):
                out.append(Event("step-started", f"step {s.ref} started: {s.title}", s.ref, state=s.state))
            elif s.state == "rolled-back":
                out.append(Event("step-rolled-back", f"step {s.ref} rolled back: {s.title}", s.ref, state=s.state))
            elif s.state in _ENDED and before in ("running", "verifying"):
                out.append(Event("step-ended", f"step {s.ref} {s.state}: {s.title}", s.ref, s.detail, s.state))
        before = was_phase.get(p.id, "locked")
        if p.state != before and before in ("locked", "open") and p.state not in ("locked", "open"):
            out.append(Event("phase-started", f"phase {p.id} started: {p.title}", p.id, state=p.state))
        if p.state != before and p.state in ("done", "overridden", "rolled-back"):
            out.append(Event("phase-ended", f"phase {p.id} {p.state}: {p.title}", p.id, state=p.state))
    rb, was_rb = new.rollback, old.rollback
    if rb is not None and (was_rb is None or was_rb.started != rb.started):
        out.append(Event("rollback-started", f"rollback started: {rb.title}", rb.name, rb.reason, "running"))
    if rb is not None and rb.ok is not None and (was_rb is None or was_rb.started != rb.started or was_rb.ok is None):
        out.append(Event("rollback-ended", rb.headline(), rb.name, state="rolled-back" if rb.ok else "failed"))
    return out
