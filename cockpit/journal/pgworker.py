"""The PostgreSQL journal's one connection, owned by one worker thread behind a bounded queue.

psycopg is touched only from the worker thread, so the connection never sees two threads and a caller
never holds the event loop longer than a bound: :meth:`Worker.call` waits at most ``deadline`` seconds
(the connect timeout plus the statement timeout plus a margin) and then gives up with
:class:`~cockpit.errors.JournalUnavailable`; a request whose caller gave up is dropped unrun.
:meth:`Worker.post` never waits at all (observations): when the queue is full it says so and the caller
spools the record on disk instead. Every statement runs under ``statement_timeout`` (set as a connection
option, so it holds from the first statement on) and every connect under ``connect_timeout``.

The connection is in autocommit mode; the store opens its transactions with an explicit ``BEGIN``.
A second connection (LISTEN/NOTIFY for live observers) would be a second worker of its own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from cockpit.errors import JournalError, JournalUnavailable

T = TypeVar("T")

CONNECT_TIMEOUT = 3.0  # seconds for a connect (libpq's connect_timeout, whole seconds, at least 2)
STATEMENT_TIMEOUT = 3.0  # seconds any one statement may run in the server before it is cancelled
QUEUE_SIZE = 256  # requests waiting for the worker; beyond that post() refuses (the caller spools)
_STOP = object()


def connect_kwargs(statement_timeout: float = STATEMENT_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT,
                   readonly: bool = False) -> dict[str, Any]:
    """libpq options of every journal connection: the timeouts, a name in pg_stat_activity, read-only."""
    options = f"-c statement_timeout={int(statement_timeout * 1000)} -c lock_timeout={int(statement_timeout * 1000)}"
    if readonly:
        options += " -c default_transaction_read_only=on"
    return {"connect_timeout": max(2, int(connect_timeout + 0.999)), "options": options,
            "application_name": "cutover-cockpit", "autocommit": True}


class Worker:
    """One thread running requests in order; ``connect`` makes the connection it passes to each one."""

    def __init__(self, name: str, deadline: float) -> None:
        self.deadline = deadline
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting: never run it late
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller, who turns it into a JournalError
                future.set_exception(exc)

    def call(self, fn: Callable[[], T], deadline: float | None = None) -> T:
        """Run ``fn`` on the worker and wait for it, at most ``deadline`` seconds (queueing included)."""
        wait = self.deadline if deadline is None else deadline
        if threading.current_thread() is self._thread:
            return fn()  # already on the worker (a request that calls back into the store)
        future: Future[T] = Future()
        try:
            self._queue.put((fn, future), timeout=wait)
        except queue.Full:
            raise JournalUnavailable(f"the journal database's worker has {QUEUE_SIZE} requests waiting",
                                     "the database is too slow or unreachable; see the banner") from None
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            future.cancel()
            raise JournalUnavailable(f"the journal database did not answer within {wait:g} s",
                                     "check the database server and the network to it") from None

    def post(self, fn: Callable[[], object]) -> bool:
        """Queue ``fn`` without waiting; False when the queue is full (nothing queued)."""
        future: Future[object] = Future()
        try:
            self._queue.put_nowait((fn, future))
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
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return  # a stuck worker: it is a daemon thread and dies with the process
        self._thread.join(timeout)
