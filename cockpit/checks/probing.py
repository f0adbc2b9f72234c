"""Direct HTTP, TCP and WebSocket probes in a worker process of their own.

The cockpit's main loop renders the screen, pumps action output and parses every host's round; a
flood of output can hold it for a few hundred milliseconds at a time. A probe timed in that loop
measures those stalls, not the server (issue 19's flood: probe p99 4–13× a quiet run). A thread with
its own loop was not enough: it still waits for the interpreter lock the rendering thread holds
(measured: a probe's p50 3 → 16 ms, p90 9 → 53 ms beside a busy main thread). So probes that go
straight from the cockpit to the service run in a small worker process
(:mod:`cockpit.checks.probe_worker`), one per engine: their timers start and stop in a loop that does
nothing else, and its own :class:`~cockpit.checks.lag.LoopLag` says when even that loop ran late (the
machine starved it). A probe through a ``via`` host needs that host's SSH connection, which lives in
the main loop, so it stays there and is judged by the main loop's lag.

:func:`trust_timing` turns the measured lateness into the rule both paths share: a latency taken
while the probing loop was late is not a measurement of the service and is not counted (issue 18:
no regression on the cockpit's own noise); a deadline missed while it was late blames the cockpit.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import struct
import sys
import time
from pathlib import Path

from cockpit.checks.remote import Verdict
from cockpit.checks.lag import OVERLOADED, LoopLag, run_delay
from cockpit.spec import DnsCheck, HttpCheck, TcpCheck, WsCheck

#: a probe's verdict, its latency, how late the probing loop ran over the whole probe, and within its timed part
Probed = tuple[Verdict, float | None, float, float]

#: a message on the worker's pipes: its length (4 bytes, big-endian), then the pickled tuple
FRAME = struct.Struct(">I")
#: what the worker writes once it can probe (its imports done)
READY = b"ready\n"
#: seconds the worker may take to start
START_TIMEOUT = 30.0
#: seconds past a probe's own deadline before the cockpit stops waiting for the worker's answer
GRACE = 2.0
#: the probe loop's monitor wakes this often: a stall longer than this is always seen
PROBE_TICK = 0.02
#: lateness that a latency sample tolerates: a fixed part (scheduling jitter) plus a share of the sample
LATE_FLOOR = 0.010
LATE_SHARE = 0.20
#: the keys of ``extra`` that are phase timings (dropped with the latency they belong to)
TIMING_KEYS = ("connect_ms", "tls_ms")


def lateness(lag: LoopLag, began: float, verdict: Verdict, latency: float | None,
             queued: float | None = None) -> tuple[float, float]:
    """How late the probing loop ran: over the whole probe, and within the part that was timed.

    The timed part ends now and reaches back over the latency and its phases (connect, TLS): a stall
    before it (the first probe builds its client and TLS context) stretched nothing that was measured.
    ``queued``: :func:`~cockpit.checks.lag.run_delay` when the probe began; the time this process then
    spent waiting for a CPU (a busy neighbour on its core) counts as lateness too (the whole probe's,
    so a little more than the timed part's: the cautious side).
    """
    end = time.monotonic()
    whole = lag.worst_since(began)
    if latency is None:
        return whole, 0.0
    phases = sum(float(v) for k, v in verdict.extra if k in TIMING_KEYS and isinstance(v, (int, float))) / 1000
    timed = lag.stalled_within(max(began, end - latency - phases), end)
    now = run_delay() if queued is not None else None
    if queued is not None and now is not None:
        timed = max(timed, now - queued)
    return whole, timed


def trust_timing(verdict: Verdict, latency: float | None, late: float) -> tuple[Verdict, float | None]:
    """``verdict`` and ``latency``, with the latency dropped when the probing loop stalled while timing it.

    ``late``: the longest stall inside the timed part (:func:`lateness`). The status is kept: an answer
    that came is an answer. Only the figure goes, with a word in the verdict's ``extra`` (``timing``)
    saying why (and the figure as ``uncounted_ms``, for the record), so a p95 or a regression never
    counts the cockpit's stall.
    """
    if latency is None or late <= LATE_FLOOR + LATE_SHARE * latency:
        return verdict, latency
    extra = tuple((k, v) for k, v in verdict.extra if k not in TIMING_KEYS)
    why = f"not counted: the cockpit ran {late * 1000:.0f} ms late while timing it"
    return Verdict(verdict.status, verdict.detail,
                   (*extra, ("timing", why), ("uncounted_ms", round(latency * 1000, 2)))), None


class WorkerDown(Exception):
    """The probe worker could not be started (internal: turned into an ``unknown`` verdict)."""


class ProbeProcess:
    """The probe worker, started on first use; each call returns a :data:`Probed`.

    The worker is our own child, reached only through its pipes (requests in, answers out; pickled
    tuples of this package's frozen dataclasses). It runs in its own session, so a terminal's signals
    go to the cockpit, which closes it (:meth:`aclose`); it exits by itself when its stdin closes, so
    a cockpit killed outright leaves nothing behind. A worker that dies is restarted on the next
    probe; the probes it was running say so (``unknown``), never ``down``.
    """

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Probed]] = {}
        self._ids = itertools.count(1)
        self._start = asyncio.Lock()
        self._closed = False
        self.started = 0  # workers started so far (a restart after a crash counts)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def _ensure(self) -> asyncio.subprocess.Process:
        async with self._start:
            if self._closed:
                raise RuntimeError("probe worker closed")
            if self._proc is None or self._proc.returncode is not None:
                root = str(Path(__file__).resolve().parents[2])  # the cockpit this process runs, not another install
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "cockpit.checks.probe_worker", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
                    start_new_session=True, limit=2**20)
                self.started += 1
                assert self._proc.stdout is not None
                try:  # its imports take 0.1-0.5 s (seconds on a loaded machine): never charged to a probe
                    async with asyncio.timeout(START_TIMEOUT):
                        await self._proc.stdout.readexactly(len(READY))
                except (TimeoutError, asyncio.IncompleteReadError) as exc:
                    self._proc.kill()
                    await self._proc.wait()
                    raise WorkerDown(f"its probe worker did not start within {START_TIMEOUT:g}s") from exc
                self._reader = asyncio.create_task(self._read(self._proc), name="cockpit:probe-worker")
            return self._proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                size = FRAME.unpack(await proc.stdout.readexactly(FRAME.size))[0]
                ident, verdict, latency, late, timed_late = pickle.loads(await proc.stdout.readexactly(size))
                fut = self._pending.pop(ident, None)
                if fut is not None and not fut.done():
                    fut.set_result((verdict, latency, late, timed_late))
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError, EOFError):
            pass
        finally:
            rc = await proc.wait()
            gone = Verdict("unknown", f"{OVERLOADED}: its probe worker exited (status {rc}) before answering; "
                                      "it is restarted for the next probe")
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_result((gone, None, 0.0, 0.0))
            self._pending.clear()

    async def start(self) -> None:
        """Start the worker now (else the first probe does, and waits for it outside its deadline)."""
        await self._ensure()

    async def _ask(self, request: tuple[object, ...], deadline: float) -> Probed:
        try:
            proc = await self._ensure()
        except WorkerDown as exc:
            return Verdict("unknown", f"{OVERLOADED}: {exc}, so this says nothing about the service"), None, 0.0, 0.0
        assert proc.stdin is not None
        ident = next(self._ids)
        fut: asyncio.Future[Probed] = asyncio.get_running_loop().create_future()
        self._pending[ident] = fut
        data = pickle.dumps((ident, *request))
        try:
            proc.stdin.write(FRAME.pack(len(data)) + data)
            await proc.stdin.drain()
            async with asyncio.timeout(deadline + GRACE):
                return await asyncio.shield(fut)
        except TimeoutError:
            why = (f"{OVERLOADED}: its probe worker gave no answer within {deadline + GRACE:g}s (the probe's "
                   f"{deadline:g}s deadline and {GRACE:g}s), so this says nothing about the service")
            return Verdict("unknown", why), None, deadline + GRACE, 0.0
        except (ConnectionError, BrokenPipeError):
            return Verdict("unknown", f"{OVERLOADED}: its probe worker is gone; it is restarted for the next probe"), \
                None, 0.0, 0.0
        finally:
            self._pending.pop(ident, None)

    async def http(self, check: HttpCheck, deadline: float) -> Probed:
        return await self._ask(("http", check, "", deadline), deadline)

    async def tcp(self, check: TcpCheck, address: str, deadline: float) -> Probed:
        return await self._ask(("tcp", check, address, deadline), deadline)

    async def ws(self, check: WsCheck, deadline: float) -> Probed:
        return await self._ask(("ws", check, "", deadline), deadline)

    async def dns(self, check: DnsCheck, deadline: float) -> Probed:
        return await self._ask(("dns", check, "", deadline), deadline)

    async def aclose(self) -> None:
        async with self._start:
            self._closed = True
            proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()  # the worker's signal to close its clients and exit
            try:
                async with asyncio.timeout(3.0):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
