"""PostgreSQL journal: observers are told of each new view by LISTEN/NOTIFY instead of waiting for a poll.

The driver's :func:`cockpit.journal.publish_view` sends ``NOTIFY cockpit_views`` in the transaction that
writes the view, so the notice arrives when the view is committed. :class:`ViewNotifier` keeps one
connection of its own listening, on a daemon thread, and calls ``wake`` for every notice. When that
connection is cut it reconnects (every second) and calls ``wake`` once more, so the observer reads the
newest view at once: the catch-up after a reconnect. The poll stays as a slower safety net; SQLite has
no notifications and keeps polling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cockpit.journal.pgworker import connect_kwargs

__all__ = ["CHANNEL", "ViewNotifier", "is_pg", "notify_sql"]

CHANNEL = "cockpit_views"
RECONNECT_EVERY = 1.0


class ViewNotifier:
    """``ViewNotifier(url, wake).start()``; ``stop()`` ends it within a second. ``received`` counts notices."""

    def __init__(self, url: str, wake: Callable[[], None]) -> None:
        self.url = url
        self.wake = wake
        self.received = 0
        self.connects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-listen", daemon=True)

    def start(self) -> ViewNotifier:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            conn: Any = None
            try:
                conn = psycopg.connect(self.url, **connect_kwargs(readonly=True))
                conn.execute(f"LISTEN {CHANNEL}")
                self.connects += 1
                if self.connects > 1:
                    self.wake()  # reconnected: whatever was published meanwhile is read now
                while not self._stop.is_set():
                    for _n in conn.notifies(timeout=1.0, stop_after=64):
                        self.received += 1
                        self.wake()
            except psycopg.Error:
                self._stop.wait(RECONNECT_EVERY)
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except psycopg.Error:
                        pass


def notify_sql() -> str:
    """The statement the driver runs in the view's transaction (PostgreSQL only)."""
    return f"SELECT pg_notify('{CHANNEL}', ?)"


def is_pg(journal: object) -> bool:
    return isinstance(getattr(journal, "url", None), str)
