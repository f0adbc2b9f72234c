"""The probe worker process (:class:`cockpit.checks.probing.ProbeProcess` starts it): ``python -m`` this.

Reads framed, pickled requests ``(id, kind, check, address, deadline)`` on stdin, runs each as its own
task in a loop that does nothing else, and writes ``(id, verdict, latency, late, timed_late)`` back on
stdout. Exits when stdin closes (the cockpit closed it, or died).
"""

from __future__ import annotations

import asyncio
import gc
import pickle
import signal
import sys
import time

from cockpit.checks.http import HttpProber, probe_tcp
from cockpit.checks.dns import probe_dns
from cockpit.checks.remote import Verdict
from cockpit.checks.ws import probe_ws
from cockpit.checks.lag import LoopLag, run_delay
from cockpit.checks.probing import FRAME, PROBE_TICK, READY, Probed, lateness


async def _probe(prober: HttpProber, lag: LoopLag, kind: str, check: object, address: str,
                 deadline: float) -> Probed:
    began, queued = time.monotonic(), run_delay()
    try:
        if kind == "http":
            verdict, latency = await prober.probe(check, deadline)  # type: ignore[arg-type]
        elif kind == "dns":
            verdict, latency = Verdict(*await probe_dns(check, deadline)), None  # type: ignore[arg-type]
        elif kind == "ws":
            verdict, latency = await probe_ws(check, deadline)  # type: ignore[arg-type]
        else:
            verdict, latency = await probe_tcp(check, address, deadline)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 (a bug here must answer, not hang the cockpit's probe)
        verdict, latency = Verdict("unknown", f"probe failed in the cockpit: {type(exc).__name__}: {exc}"), None
    return (verdict, latency, *lateness(lag, began, verdict, latency, queued))


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    out = sys.stdout.buffer
    prober, lag = HttpProber(), LoopLag(tick=PROBE_TICK)
    prober.warm()  # building clients and TLS contexts stalls the loop: before any probe's clock runs
    # what the imports and the warm-up left on the heap goes out of the collector's reach: otherwise the
    # first full collection (tens of ms, soon after start) stalled the loop while a probe was being timed
    gc.collect()
    gc.freeze()
    lag.start()
    out.write(READY)
    out.flush()
    tasks: set[asyncio.Task[None]] = set()

    async def answer(ident: int, request: tuple[str, object, str, float]) -> None:
        data = pickle.dumps((ident, *await _probe(prober, lag, *request)))
        out.write(FRAME.pack(len(data)) + data)
        out.flush()

    try:
        while True:
            try:
                size = FRAME.unpack(await reader.readexactly(FRAME.size))[0]
                ident, *request = pickle.loads(await reader.readexactly(size))
            except asyncio.IncompleteReadError:
                break  # stdin closed: the cockpit is done with us
            task = asyncio.create_task(answer(ident, tuple(request)))  # type: ignore[arg-type]
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await prober.aclose()
        await lag.stop()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the cockpit decides when probing stops
    try:
        asyncio.run(serve())
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
