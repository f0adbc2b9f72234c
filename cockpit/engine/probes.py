"""Direct HTTP and TCP probes on a thread and event loop of their own.

The cockpit's main loop renders the screen, pumps action output and parses every host's round; a
flood of output can hold it for a few hundred milliseconds at a time. A probe timed in that loop
measures those stalls, not the server (issue 19's flood: probe p99 4–13× a quiet run). Probes that
go straight from the cockpit to the service therefore run here: their timers start and stop in a
loop that does nothing else, and its own :class:`~cockpit.engine.lag.LoopLag` says when even this
loop ran late (the machine or the GIL starved it). A probe through a ``via`` host needs that host's
SSH connection, which lives in the main loop, so it stays there and is judged by the main loop's lag.

:func:`trust_timing` turns the measured lateness into the rule both paths share: a latency taken
while the probing loop was late is not a measurement of the service and is not counted (issue 18:
no regression on the cockpit's own noise); a deadline missed while it was late blames the cockpit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

from cockpit.checks import HttpProber, Verdict, probe_tcp
from cockpit.engine.lag import LoopLag
from cockpit.spec import HttpCheck, TcpCheck

#: a probe's verdict, its latency, how late the probing loop ran over the whole probe, and within its timed part
Probed = tuple[Verdict, float | None, float, float]

#: the probe loop's monitor wakes this often: a stall longer than this is always seen
PROBE_TICK = 0.02
#: lateness that a latency sample tolerates: a fixed part (scheduling jitter) plus a share of the sample
LATE_FLOOR = 0.010
LATE_SHARE = 0.20
#: the keys of ``extra`` that are phase timings (dropped with the latency they belong to)
TIMING_KEYS = ("connect_ms", "tls_ms")


def lateness(lag: LoopLag, began: float, verdict: Verdict, latency: float | None) -> tuple[float, float]:
    """How late the probing loop ran: over the whole probe, and within the part that was timed.

    The timed part ends now and reaches back over the latency and its phases (connect, TLS): a stall
    before it (the first probe builds its client and TLS context) stretched nothing that was measured.
    """
    end = time.monotonic()
    whole = lag.worst_since(began)
    if latency is None:
        return whole, 0.0
    phases = sum(float(v) for k, v in verdict.extra if k in TIMING_KEYS and isinstance(v, (int, float))) / 1000
    return whole, lag.stalled_within(max(began, end - latency - phases), end)


def trust_timing(verdict: Verdict, latency: float | None, late: float) -> tuple[Verdict, float | None]:
    """``verdict`` and ``latency``, with the latency dropped when the probing loop stalled while timing it.

    ``late``: the longest stall inside the timed part (:func:`lateness`). The status is kept: an answer
    that came is an answer. Only the figure goes, with a word in the verdict's ``extra`` (``timing``)
    saying why, so a p95 or a regression never counts the cockpit's stall.
    """
    if latency is None or late <= LATE_FLOOR + LATE_SHARE * latency:
        return verdict, latency
    extra = tuple((k, v) for k, v in verdict.extra if k not in TIMING_KEYS)
    why = f"not counted: the cockpit ran {late * 1000:.0f} ms late while timing it"
    return Verdict(verdict.status, verdict.detail, (*extra, ("timing", why))), None


class ProbeThread:
    """One daemon thread running an event loop with its own :class:`HttpProber` and lag monitor.

    Started on first use; :meth:`aclose` closes the HTTP clients, stops the loop and joins the thread.
    Every call returns a :data:`Probed`: the verdict, the latency and how late the probe loop ran
    while this probe was in flight (:func:`lateness`), measured in that loop.
    """

    def __init__(self, concurrency: int = 20) -> None:
        self._concurrency = concurrency
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._prober: HttpProber | None = None
        self._lag: LoopLag | None = None
        self._start = threading.Lock()
        self._closed = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._start:
            if self._closed:
                raise RuntimeError("probe thread closed")
            if self._loop is None:
                ready = threading.Event()

                def main() -> None:
                    loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(loop)
                    self._prober = HttpProber(self._concurrency)
                    self._lag = LoopLag(tick=PROBE_TICK)
                    self._loop = loop
                    loop.call_soon(self._lag.start)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    finally:
                        loop.run_until_complete(loop.shutdown_asyncgens())
                        loop.close()

                self._thread = threading.Thread(target=main, name="cockpit-probes", daemon=True)
                self._thread.start()
                ready.wait()
            assert self._loop is not None
            return self._loop

    async def _submit(self, make: Callable[[], Awaitable[tuple[Verdict, float | None]]]) -> Probed:
        loop = self._ensure()

        async def timed() -> Probed:
            assert self._lag is not None
            began = time.monotonic()
            verdict, latency = await make()
            return (verdict, latency, *lateness(self._lag, began, verdict, latency))

        # cancelling the awaiting task cancels the probe in its loop too
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(timed(), loop))

    async def http(self, check: HttpCheck, deadline: float) -> Probed:
        return await self._submit(lambda: self._http(check, deadline))

    async def _http(self, check: HttpCheck, deadline: float) -> tuple[Verdict, float | None]:
        assert self._prober is not None
        return await self._prober.probe(check, deadline)

    async def tcp(self, check: TcpCheck, address: str, deadline: float) -> Probed:
        return await self._submit(lambda: probe_tcp(check, address, deadline))

    async def aclose(self) -> None:
        with self._start:
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._prober is not None:
                await self._prober.aclose()
            if self._lag is not None:
                await self._lag.stop()

        try:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(shutdown(), loop))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, 5.0)
