"""Calls to outside HTTP APIs (webhooks, Alertmanager, Grafana), off every path that matters.

:meth:`Outbox.post` returns at once: each call is a task of its own (at most ``CONCURRENCY`` at a
time), so a hung receiver delays neither a round, nor the UI, nor another call. A call is tried
again after a connection error, a timeout, 429 or 5xx, waiting ``backoff`` seconds then twice as long
each time; any other answer is final. Its outcome (delivered or failed, with the status or the error
and the attempts) is handed to ``record`` (the journal) and a failure to ``warn`` (the screen):
nothing it does can stop the cutover.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cockpit.sanitize import one_line
from cockpit.secrets import Redactor

__all__ = ["Call", "Outbox", "Outcome"]

log = logging.getLogger("cockpit.notify")
CONCURRENCY = 8  # calls in flight at once; more wait their turn (a flood of events never floods a receiver)
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Call:
    """One request and how hard to try it."""

    kind: str  # the journal record's kind: notify, silence, silence-expire, annotation
    what: str  # what it is about, journaled: "gate-failed canary", "api-v1 on h1 for decommission.stop-v1"
    method: str
    url: str
    body: Any = None  # JSON
    headers: tuple[tuple[str, str], ...] = ()
    retries: int = 2
    backoff: float = 1.0
    timeout: float = 5.0


@dataclass(frozen=True)
class Outcome:
    call: Call
    ok: bool
    status: int | None
    attempts: int
    error: str = ""
    reply: Any = None  # the JSON answer of a delivered call (a silence's id), else None
    seconds: float = 0.0


@dataclass
class Outbox:
    """Delivers :class:`Call` s in the background; ``record`` and ``warn`` hear every outcome."""

    redactor: Redactor = field(default_factory=Redactor)
    record: Callable[[str, dict[str, Any]], None] = lambda kind, data: None
    warn: Callable[[str], None] = lambda text: None
    _tasks: set[asyncio.Task[Outcome]] = field(default_factory=set)
    _gate: asyncio.Semaphore | None = None
    _client: httpx.AsyncClient | None = None

    def post(self, call: Call, then: Callable[[Outcome], None] | None = None) -> asyncio.Task[Outcome]:
        """Start delivering ``call`` and return at once; ``then`` hears the outcome (after the journal)."""
        task = asyncio.get_running_loop().create_task(self._deliver(call, then), name=f"outbox:{call.kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for the calls in flight: a headless command's last events still go out."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def aclose(self, grace: float = 2.0) -> None:
        await self.drain(grace)
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False,
                                             limits=httpx.Limits(max_connections=CONCURRENCY))
        return self._client

    async def _deliver(self, call: Call, then: Callable[[Outcome], None] | None) -> Outcome:
        if self._gate is None:
            self._gate = asyncio.Semaphore(CONCURRENCY)
        began = time.monotonic()
        async with self._gate:
            outcome = await self._attempts(call, began)
        self._report(outcome)
        if then is not None:
            try:
                then(outcome)
            except Exception:  # a follow-up's bug must not lose the outcome
                log.exception("after %s", call.kind)
        return outcome

    async def _attempts(self, call: Call, began: float) -> Outcome:
        status: int | None = None
        error = ""
        attempt = 0
        for attempt in range(1, call.retries + 2):
            if attempt > 1:
                await asyncio.sleep(call.backoff * 2 ** (attempt - 2))
            try:
                res = await self._http().request(call.method, call.url, json=call.body, headers=dict(call.headers),
                                                 timeout=call.timeout)
            except httpx.TimeoutException:
                status, error = None, f"no answer within {call.timeout:g} s"
                continue
            except httpx.HTTPError as exc:
                status, error = None, one_line(f"{type(exc).__name__}: {exc}", 300)
                continue
            status = res.status_code
            if 200 <= status < 300:
                reply = None
                try:
                    reply = res.json() if res.content else None
                except ValueError:
                    pass
                return Outcome(call, True, status, attempt, reply=reply, seconds=time.monotonic() - began)
            error = f"HTTP {status}: {one_line(res.text, 200)}"  # the receiver's text: untrusted, one clean line
            if status not in RETRY_STATUS:
                break
        return Outcome(call, False, status, attempt, error, seconds=time.monotonic() - began)

    def _report(self, o: Outcome) -> None:
        red = self.redactor.redact
        data = {"what": red(o.call.what), "method": o.call.method, "url": red(o.call.url), "ok": o.ok,
                "status": o.status, "attempts": o.attempts, "seconds": round(o.seconds, 3)}
        if o.error:
            data["error"] = red(o.error)
        try:
            self.record(o.call.kind, data)
        except Exception as exc:  # noqa: BLE001  the journal refused (lease lost, disk full): say so, never raise
            log.warning("could not journal %s: %s", o.call.kind, exc)
        if not o.ok:
            self.warn(red(f"{o.call.kind} {o.call.what} failed after {o.attempts} attempt(s): {o.error}"))
