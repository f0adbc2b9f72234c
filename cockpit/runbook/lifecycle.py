"""Old and new services: what a lifecycle service should be on a host now, from that host's outcome of its step.

An old service (``retired_by``) is expected up until its step (or phase) is done *on that host*, then
down; a new one (``introduced_by``) is "absent" (up or down is fine) until then, then up. While the step
runs or verifies on the host (an ``expect_disconnect`` host rebooting included) the service is "in
transition". A retirement done by an ``irreversible`` step is never re-expected, even after a rollback.
Without a journal nothing says how far the cutover got before this cockpit: "inconclusive".

A mixin over :class:`cockpit.runbook.state.RunbookState`; the runbook installs :meth:`expectation` as the
engine's ``expect`` so every snapshot carries the judgment (the UI, ``check`` and ``snapshot`` agree).
"""

from __future__ import annotations

from cockpit.model import Expect
from cockpit.runbook.state import RunbookState
from cockpit.runbook.views import DONE_PHASE, DONE_STEP
from cockpit.spec import ServiceSpec

#: a host's position against a step: not done yet, running or verifying there now, done there
Position = str  # "before" | "transition" | "after"


class LifecycleMixin(RunbookState):
    """Per-host expectations of lifecycle services."""

    def _host_position(self, ref: str, host: str) -> tuple[Position, str]:
        """Where ``host`` stands with step ``ref``: its own outcome, not the step's overall state."""
        _phase, step = self.spec.step(ref)
        st = self._steps[ref]
        if step.irreversible and host in self._irreversible_done.get(ref, set()):
            return "after", f"{ref} (irreversible) done on this host"
        if st.state == "rolled-back":
            return "before", f"{ref} rolled back"
        named = {r.title for r in self.spec.rollbacks}  # an older journal: its quick rollback left steps done
        if any(r.title in named and r.ok and r.started >= st.at for r in self._rollbacks):
            return "before", f"{ref} undone by a rollback"
        if host not in self.step_hosts(step):
            return ("after", f"{ref} {st.state}") if st.state in DONE_STEP else ("before", f"{ref} not done")
        check = st.checks.get(host)
        if st.state == "skipped":
            return "after", f"{ref} skipped"
        if host in st.active and not (check is not None and check.ok):
            return "transition", f"in transition: {ref} {st.state} on this host"
        if check is not None and check.ok:
            return "after", f"{ref} done on this host"
        return "before", f"{ref} not done on this host" + (f" ({st.state})" if st.state != "pending" else "")

    def _phase_position(self, phase_id: str, host: str) -> tuple[Position, str]:
        phase = self.spec.phase(phase_id)
        if self.phase_state(phase) in DONE_PHASE:
            return "after", f"phase {phase_id} {self.phase_state(phase)}"
        mine = [f"{phase.id}.{s.id}" for s in phase.steps if host in self.step_hosts(s)]
        positions = [self._host_position(ref, host) for ref in mine]
        for pos, why in positions:
            if pos == "transition":
                return pos, why
        if positions and all(pos == "after" for pos, _ in positions):
            return "after", f"phase {phase_id}: its steps done on this host"
        return "before", f"phase {phase_id} not done on this host"

    def _known(self, ref: str) -> bool:
        """Has anything of this step/phase happened that this cockpit knows of (without a journal)?"""
        refs = [ref] if "." in ref else [f"{ref}.{s.id}" for s in self.spec.phase(ref).steps]
        return any(self._steps[r].state != "pending" for r in refs) or ref in self._phase_state

    def expectation(self, host: str, svc: ServiceSpec) -> tuple[Expect, str]:
        """What ``svc`` should be on ``host`` now, and why (see the module's docstring)."""
        if svc.expect == "down":
            return "down", 'expect = "down"'
        ref = svc.lifecycle
        if ref is None:
            return "up", ""
        if self.journal is None and not self._known(ref):
            return "inconclusive", f"no journal: how far {ref} got is unknown"
        pos, why = self._phase_position(ref, host) if "." not in ref else self._host_position(ref, host)
        if pos == "transition":
            return "transition", why
        if svc.retired_by:
            return ("down", f"retired by {why}") if pos == "after" else ("up", f"retired by {ref}: {why}")
        return ("up", f"introduced by {why}") if pos == "after" else ("absent", f"introduced by {ref}: {why}")
