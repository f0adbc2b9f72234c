"""Telling the outside world: webhooks for alarms, Alertmanager silences and Grafana annotations for the window.

Parts: ``events`` (the frozen :class:`Event`), ``outbox`` (calls delivered in the background with retries,
each outcome journaled), ``payloads`` (bodies, silences, annotations). The runbook decides what to say
(:mod:`cockpit.runbook.alarms`, :mod:`cockpit.runbook.announce`); this area only knows HTTP.
"""

from __future__ import annotations

from cockpit.notify.events import ALARMS, MOMENTS, Event
from cockpit.notify.outbox import Call, Outbox, Outcome
from cockpit.notify.payloads import annotation, fill, matchers, render_body, silence

__all__ = [
           "ALARMS",
           "MOMENTS",
           "Call",
           "Event",
           "Outbox",
           "Outcome",
           "annotation",
           "fill",
           "matchers",
           "render_body",
           "silence",
]
