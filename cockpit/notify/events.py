"""What the cockpit tells the outside world about: one frozen event, made by the runbook from its views.

Alarms (a regression, a failed gate, a failed or over-budget rollback, a lost lease) ring the terminal
bell and go to the ``[[notify]]`` webhooks; the cutover's own moments (a phase or step starting and
ending, a rollback) drive Alertmanager silences and Grafana annotations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cockpit.spec import ALARM_KINDS as ALARMS

#: the cutover's own moments, for silences and annotations
MOMENTS = ("phase-started", "phase-ended", "step-started", "step-ended", "step-rolled-back",
           "rollback-started", "rollback-ended")


@dataclass(frozen=True)
class Event:
    """One thing that happened, with the fields a webhook body template may use."""

    kind: str  # one of ALARMS or MOMENTS
    summary: str  # one line: "gate of canary FAILS: p95(web) < 300ms: 412ms on h2"
    ref: str = ""  # the phase, PHASE.STEP or rollback it is about ("" for a regression or the lease)
    detail: str = ""
    state: str = ""  # the step's or phase's state after the event (done, failed, rolled-back…)
    at: float = field(default_factory=time.time)

    @property
    def alarm(self) -> bool:
        return self.kind in ALARMS

    def fields(self, title: str, operator: str) -> dict[str, str]:
        """What ``{name}`` in a body template or a matcher may name."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))
        return {"event": self.kind, "summary": self.summary, "ref": self.ref, "detail": self.detail,
                "state": self.state, "at": when, "title": title, "operator": operator}

