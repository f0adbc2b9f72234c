"""What the driver tells the outside world as the plan moves: webhooks, silences, annotations.

Fed every published :class:`PlanView`; :func:`events_between` (the same rule as the bell) says what
happened. Every call goes through the :class:`~cockpit.notify.Outbox`: it returns at once, retries in
the background, journals each outcome, and a failure only warns.

- ``[[notify]]``: each alarm its webhook listens for, from the driver (an observer stays silent, so
  two cockpits on one journal never page twice), and a lost lease from the cockpit that lost it.
- ``[alertmanager]``: when a step starts, a silence per service × host it retires or introduces
  (``retired_by``/``introduced_by`` naming the step or its phase), until the step's longest possible
  run; expired when the step ends or is rolled back, and when a rollback ends.
- ``[grafana]``: an annotation when a phase, a step or a rollback starts, made a region (``timeEnd``)
  when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from cockpit.notify import (
    Call,
    Event,
    Outbox,
    Outcome,
    annotation,
    render_body,
    silence,
)
from cockpit.runbook.alarms import events_between
from cockpit.runbook.views import PlanView
from cockpit.spec import Config

__all__ = ["Announcer"]

log = logging.getLogger("cockpit.notify")
SILENCE_MARGIN = 300.0  # seconds a silence outlives the step's longest run, should the cockpit die mid-step


class Announcer:
    """Listens to the runbook's views (``runbook.listeners``) and posts what they say to the outside."""

    def __init__(self, runbook: Any, config: Config, outbox: Outbox, operator: str) -> None:
        self.runbook = runbook
        self.config = config
        self.outbox = outbox
        self.operator = operator
        self.last: PlanView | None = runbook.view()  # a starting point, not news
        self.silences: dict[str, list[asyncio.Task[Outcome]]] = {}  # step ref -> its silences being created
        self.regions: dict[str, asyncio.Task[Outcome]] = {}  # "step:REF" -> its annotation being created
        self.expiring: set[asyncio.Task[None]] = set()

    def seen(self, view: PlanView) -> None:
        """One published view: post what changed since the last one."""
        events = events_between(self.last, view)
        self.last = view
        if not events:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # published outside the event loop (a test building views): nothing to post from
            return
        for e in events:
            self.handle(e, view)

    def handle(self, e: Event, view: PlanView) -> None:
        if e.alarm and (not view.observer or e.kind == "lease-lost"):
            self._webhooks(e)
        if view.observer:
            return  # silences and annotations are the driver's
        if self.config.alertmanager is not None:
            if e.kind == "step-started":
                self._silence(e.ref)
            elif e.kind in ("step-ended", "step-rolled-back"):
                self._expire([e.ref])
            elif e.kind == "rollback-ended":
                self._expire(list(self.silences))
        if self.config.grafana is not None and not e.alarm:
            self._annotate(e)

    # -- webhooks ------------------------------------------------------------------------------

    def _webhooks(self, e: Event) -> None:
        red = self.outbox.redactor.redact
        fields = {k: red(v) for k, v in e.fields(self.config.cockpit.title, self.operator).items()}
        for hook in self.config.notify:
            if e.kind in hook.events:
                self.outbox.post(Call("notify", f"{e.kind} {e.ref}".strip(), "POST", hook.url,
                                      render_body(hook.body, fields), hook.headers, hook.retries, hook.backoff,
                                      hook.timeout))

    # -- Alertmanager --------------------------------------------------------------------------

    def touched(self, ref: str) -> list[tuple[str, str]]:
        """(service, host) a step retires or introduces on its own hosts (naming it, or its phase)."""
        phase_id = ref.split(".", 1)[0]
        _phase, step = self.runbook.spec.step(ref)
        hosts = self.runbook.step_hosts(step)
        on = dict(self.config.assignments)
        return [(svc.name, h) for svc in self.config.services if svc.lifecycle in (ref, phase_id)
                for h in hosts if svc.name in on.get(h, ())]

    def _silence(self, ref: str) -> None:
        am = self.config.alertmanager
        assert am is not None
        _phase, step = self.runbook.spec.step(ref)
        longest = (step.timeout or 3600.0) + step.within + (step.wait_for if step.expect_disconnect else 0.0)
        start = time.time()
        tasks = self.silences.setdefault(ref, [])
        for service, host in self.touched(ref):
            values = {"service": service, "host": host, "step": ref, "phase": ref.split(".", 1)[0]}
            body = silence(am.matchers, values, start, start + longest + SILENCE_MARGIN, self.operator,
                           f"cutover step {ref}: {step.title} ({self.config.cockpit.title})")
            tasks.append(self.outbox.post(Call("silence", f"{service} on {host} for {ref}", "POST",
                                               f"{am.url}/api/v2/silences", body, am.headers, am.retries,
                                               1.0, am.timeout)))

    def _expire(self, refs: list[str]) -> None:
        tasks = [t for ref in refs for t in self.silences.pop(ref, [])]
        if tasks:
            job = asyncio.get_running_loop().create_task(self._expire_all(tasks))
            self.expiring.add(job)
            job.add_done_callback(self.expiring.discard)

    async def _expire_all(self, created: list[asyncio.Task[Outcome]]) -> None:
        """Each silence once its creation answered (it may still be in flight): DELETE it by id."""
        am = self.config.alertmanager
        assert am is not None
        for task in created:
            outcome = await asyncio.shield(task)
            sid = (outcome.reply or {}).get("silenceID") if outcome.ok and isinstance(outcome.reply, dict) else None
            if sid:
                await self.outbox.post(Call("silence-expire", f"{outcome.call.what} (silence {sid})", "DELETE",
                                            f"{am.url}/api/v2/silence/{sid}", None, am.headers, am.retries, 1.0,
                                            am.timeout))

    # -- Grafana -------------------------------------------------------------------------------

    def _annotate(self, e: Event) -> None:
        g = self.config.grafana
        assert g is not None
        headers = ((("Authorization", f"Bearer {g.token}"),) if g.token else ())
        kind, _, edge = e.kind.partition("-")  # phase-started -> phase, started
        key = f"{kind}:{e.ref}"
        text = self.outbox.redactor.redact(f"{self.config.cockpit.title}: {e.summary}")
        tags = (*g.tags, kind, e.ref) if e.ref else (*g.tags, kind)
        if edge == "started":
            self.regions[key] = self.outbox.post(Call("annotation", e.summary, "POST", f"{g.url}/api/annotations",
                                                      annotation(text, tags, e.at, g.dashboard_uid), headers,
                                                      g.retries, 1.0, g.timeout))
            return
        started = self.regions.pop(key if e.kind != "step-rolled-back" else f"step:{e.ref}", None)
        if started is None:  # it began before this cockpit: a point
            self.outbox.post(Call("annotation", e.summary, "POST", f"{g.url}/api/annotations",
                                  annotation(text, tags, e.at, g.dashboard_uid), headers, g.retries, 1.0, g.timeout))
            return
        job = asyncio.get_running_loop().create_task(self._close_region(started, e, text, tags, headers))
        self.expiring.add(job)
        job.add_done_callback(self.expiring.discard)

    async def _close_region(self, started: asyncio.Task[Outcome], e: Event, text: str, tags: tuple[str, ...],
                            headers: tuple[tuple[str, str], ...]) -> None:
        g = self.config.grafana
        assert g is not None
        outcome = await asyncio.shield(started)
        aid = (outcome.reply or {}).get("id") if outcome.ok and isinstance(outcome.reply, dict) else None
        if aid is None:
            await self.outbox.post(Call("annotation", e.summary, "POST", f"{g.url}/api/annotations",
                                        annotation(text, tags, e.at, g.dashboard_uid), headers, g.retries, 1.0,
                                        g.timeout))
            return
        body = {"timeEnd": int(e.at * 1000), "text": text, "tags": list(tags)}
        await self.outbox.post(Call("annotation", f"{e.summary} (annotation {aid})", "PATCH",
                                    f"{g.url}/api/annotations/{aid}", body, headers, g.retries, 1.0, g.timeout))

    async def drain(self, timeout: float) -> None:
        """Bounded: the expiries and regions in flight, then the outbox (a headless step's last calls)."""
        if self.expiring:
            await asyncio.wait(set(self.expiring), timeout=timeout)
        await self.outbox.drain(timeout)
