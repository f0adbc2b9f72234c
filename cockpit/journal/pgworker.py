"""The PostgreSQL journal's one connection, owned by one worker thread behind a bounded queue.

psycopg is touched only from the worker thread, so the connection never sees two threads and a caller
never holds the event loop longer than a bound: :meth:`Worker.call` waits at most ``deadline`` seconds
(the connect timeout plus the statement timeout plus a margin) and then gives up with
:class:`~cockpit.errors.JournalUnavailable`; a request whose caller gave up is dropped unrun. The caller's
wait is untimed and a watchdog thread ends it at the deadline: a timed wait may wake late (measured under
libfaketime, which the clock-skew test uses: a quarter of the hand-offs took 250-350 ms instead of 0.2 ms).
:meth:`Worker.post` never waits at all (observations): when the queue is full it says so and the caller
spools the record on disk instead. Every statement runs under ``statement_timeout`` (set as a connection
option, so it holds from the first statement on) and every connect under ``connect_timeout``.

The connection is in autocommit mode; the store opens its transactions with an explicit ``BEGIN``.
A second connection (LISTEN/NOTIFY for live observers) would be a second worker of its own.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cockpit.errors import JournalError, JournalUnavailable

T = TypeVar("T")

CONNECT_TIMEOUT = 3.0  # seconds for a connect (libpq's connect_timeout, whole seconds, at least 2)
STATEMENT_TIMEOUT = 3.0  # seconds any one statement may run in the server before it is cancelled
QUEUE_SIZE = 256  # requests waiting for the worker; beyond that post() refuses (the caller spools)
WATCH_EVERY = 0.05  # seconds between the watchdog's looks for callers whose deadline passed
_STOP = object()


def connect_kwargs(statement_timeout: float = STATEMENT_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT,
                   readonly: bool = False) -> dict[str, Any]:
    """libpq options of every journal connection: the timeouts, a name in pg_stat_activity, read-only."""
    options = f"-c statement_timeout={int(statement_timeout * 1000)} -c lock_timeout={int(statement_timeout * 1000)}"
    if readonly:
        options += " -c default_transaction_read_only=on"
    return {"connect_timeout": max(2, int(connect_timeout + 0.999)), "options": options,
            "application_name": "cutover-cockpit", "autocommit": True}


class _Reply:
    """One request's outcome. The caller waits on a plain lock (an untimed wait: a timed one can wake late,
    e.g. under libfaketime, which intercepts timed waits); the worker or the watchdog settles it once."""

    def __init__(self, fn: Callable[[], Any], limit: float) -> None:
        self.fn, self.limit = fn, limit
        self.deadline = time.monotonic() + limit
        self._done = threading.Lock()
        self._done.acquire()
        self._guard = threading.Lock()
        self.settled = False
        self.value: Any = None
        self.error: BaseException | None = None

    def settle(self, value: Any = None, error: BaseException | None = None) -> bool:
        with self._guard:
            if self.settled:
                return False
            self.settled, self.value, self.error = True, value, error
        self._done.release()
        return True

    def wait(self) -> Any:
        self._done.acquire()
        if self.error is not None:
            raise self.error
        return self.value


class Worker:
    """One thread running requests in order, plus a watchdog that gives up on late ones for their callers."""

    def __init__(self, name: str, deadline: float) -> None:
        self.deadline = deadline
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
        self._waiting: list[_Reply] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=self._watch, name=f"{name}:watchdog", daemon=True)
        self._watchdog.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if item.settled:
                continue  # its caller gave up waiting: never run it late
            try:
                item.settle(item.fn())
            except BaseException as exc:  # handed to the caller, who turns it into a JournalError
                item.settle(error=exc)

    def _watch(self) -> None:
        while not self._stopped.wait(WATCH_EVERY):
            now = time.monotonic()
            with self._lock:
                late = [r for r in self._waiting if r.deadline <= now or r.settled]
                self._waiting = [r for r in self._waiting if r not in late]
            for r in late:
                r.settle(error=JournalUnavailable(f"the journal database did not answer within {r.limit:g} s",
                                                  "check the database server and the network to it"))

    def call(self, fn: Callable[[], T], deadline: float | None = None) -> T:
        """Run ``fn`` on the worker and wait for it, at most ``deadline`` seconds (queueing included)."""
        wait = self.deadline if deadline is None else deadline
        if threading.current_thread() is self._thread:
            return fn()  # already on the worker (a request that calls back into the store)
        reply = _Reply(fn, wait)
        with self._lock:
            self._waiting.append(reply)
        try:
            self._queue.put_nowait(reply)
        except queue.Full:
            reply.settle(error=JournalUnavailable(f"the journal database's worker has {QUEUE_SIZE} requests waiting",
                                                  "the database is too slow or unreachable; see the banner"))
        return reply.wait()  # type: ignore[no-any-return]

    def post(self, fn: Callable[[], object]) -> bool:
        """Queue ``fn`` without waiting; False when the queue is full (nothing queued)."""
        try:
            self._queue.put_nowait(_Reply(fn, float("inf")))
        except queue.Full:
            return False
        return True

    def drain(self, timeout: float) -> None:
        """Wait until everything queued before now has run (bounded)."""
        try:
            self.call(lambda: None, deadline=timeout)
        except JournalError:
            pass

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return  # a stuck worker: it is a daemon thread and dies with the process
        self._thread.join(timeout)
