"""The runbook: phases, steps and gates, run and judged against fresh checks, with rollback.

Parts: ``phases`` (:class:`Runbook`), ``state`` (what the journal says happened), ``steps`` (running and
verifying a step), ``rollback``, ``alarms`` (events from two views: the bell's and the
outside world's one rule), ``announce`` (webhooks, silences, annotations), ``views`` (immutable plan views for
the screens), ``context`` (the conditions' view of the engine), ``rolling`` (batches of hosts), ``analysis`` (a
gate as an analysis run of measurements with failure and inconclusive limits).
"""

from __future__ import annotations

from cockpit.errors import RunbookError
from cockpit.runbook.alarms import alarms_between, events_between
from cockpit.runbook.announce import Announcer
from cockpit.runbook.analysis import AnalysisView, MeasurementView
from cockpit.runbook.context import EngineContext
from cockpit.runbook.phases import Runbook
from cockpit.runbook.rolling import batches, ordered
from cockpit.runbook.views import (
    DONE_PHASE,
    DONE_STEP,
    VERIFY_POLL,
    HostCheck,
    HostFailure,
    PhaseView,
    PlanView,
    RemovedStep,
    RollbackRecord,
    RollbackState,
    StepView,
)

__all__ = [
    "Announcer",
    "AnalysisView",
    "EngineContext",
    "DONE_PHASE",
    "DONE_STEP",
    "HostCheck",
    "HostFailure",
    "MeasurementView",
    "PhaseView",
    "PlanView",
    "RemovedStep",
    "RollbackRecord",
    "RollbackState",
    "Runbook",
    "RunbookError",
    "StepView",
    "VERIFY_POLL",
    "alarms_between",
    "batches",
    "events_between",
    "ordered",
]
