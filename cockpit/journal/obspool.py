"""Observations on their way to a journal database: on disk first, in order, flushed by a pump thread.

A status change is appended to ``<state_dir>/journal-observations.jsonl`` (one JSON object a line) and the
caller returns at once: monitoring never waits for the database. A pump thread writes what is pending, in
file order, in batches. While the database is unreachable the file grows (bounded: past
:data:`MAX_PENDING` records new ones are counted as dropped, never silently); when it answers again the
pump first writes a ``journal-gap`` record (when the outage began and ended, how many records were waiting
on disk then and how many were dropped), then the spooled records in the order they were observed. The offset of what the database has
is kept beside the file, so a restart neither loses nor repeats what was already flushed.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cockpit.errors import JournalError
from cockpit.exports import utc
from cockpit.model import StatusChange

MAX_PENDING = 100_000  # records waiting on disk; beyond, new observations are dropped and counted
BATCH = 500  # records per flush transaction
EVERY = 0.2  # seconds between looks when nothing woke the pump

Flush = Callable[[list[StatusChange], "dict[str, Any] | None"], None]


class ObservationSpool:
    """``append(events)`` from any thread; ``start()`` the pump; ``pending`` for the banner."""

    def __init__(self, directory: Path, flush: Flush) -> None:
        self.dir = Path(directory)
        self.file = self.dir / "journal-observations.jsonl"
        self._offset_file = self.dir / "journal-observations.offset"
        self._flush = flush
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pending = 0
        self.dropped = 0
        self.failing_since: float | None = None  # when a flush first failed (the gap's start)
        self.last_error = ""

    def start(self) -> bool:
        """Own the spool and start its pump; False (nothing started) when another process owns it.

        One pump per spool: two cockpits started from one config on one machine would otherwise flush the
        same records twice. The owner holds an exclusive ``flock`` on ``journal-observations.lock`` for life.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lockfile = (self.dir / "journal-observations.lock").open("a")
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            return False
        self.pending = len(self._read(self._offset())[0])
        self._thread = threading.Thread(target=self._pump, name="journal-spool", daemon=True)
        self._thread.start()
        self._wake.set()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what can be flushed now (bounded), then stop the pump."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None
        self._lockfile.close()  # releases the flock

    def append(self, events: list[StatusChange]) -> None:
        if not events:
            return
        with self._lock:
            room = MAX_PENDING - self.pending
            n = min(len(events), max(0, room))
            keep, lost = events[:n], len(events) - n
            if keep:  # one write(2) on an O_APPEND descriptor: another cockpit appending never splits a line
                data = "".join(json.dumps(dataclasses.asdict(e), ensure_ascii=False) + "\n" for e in keep)
                fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data.encode("utf-8"))
                finally:
                    os.close(fd)
                self.pending += len(keep)
            self.dropped += lost
        self._wake.set()

    def drain(self, timeout: float) -> bool:
        """Wake the pump and wait until nothing is pending (bounded); True when empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._wake.set()
            if self.pending == 0:
                return True
            time.sleep(0.05)
        return self.pending == 0

    # -- the pump ------------------------------------------------------------------------------

    def _offset(self) -> int:
        try:
            return int(self._offset_file.read_text())
        except (OSError, ValueError):
            return 0

    def _read(self, offset: int) -> tuple[list[tuple[int, StatusChange]], int]:
        """[(end offset, event)] after ``offset`` (whole lines only), and the file's size."""
        try:
            with self.file.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], 0
        out: list[tuple[int, StatusChange]] = []
        pos = offset
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a line being written
            pos += len(line)
            try:
                out.append((pos, StatusChange(**json.loads(line))))
            except (ValueError, TypeError):  # a damaged line (a crash mid-write): skipped and counted, never fatal
                self.dropped += 1
        return out, offset + len(data)

    def _pump(self) -> None:
        while True:
            self._wake.wait(EVERY)
            self._wake.clear()
            stopping = self._stop.is_set()
            self._pump_once()
            if stopping:
                return

    def _pump_once(self) -> None:
        while True:
            offset = self._offset()
            with self._lock:
                todo, size = self._read(offset)
            if not todo and self.failing_since is None:
                return
            batch = todo[:BATCH]
            gap = self._gap() if self.failing_since is not None else None
            try:
                self._flush([e for _, e in batch], gap)
            except JournalError as exc:
                if self.failing_since is None:
                    self.failing_since = time.time()
                self.last_error = exc.message
                return
            self.failing_since, self.last_error = None, ""
            if gap is not None:
                self.dropped -= gap["dropped"]
            with self._lock:
                end = batch[-1][0] if batch else offset
                self.pending = max(0, self.pending - len(batch))
                if end >= size and end == self.file.stat().st_size:
                    self.file.write_text("")  # all flushed: start the file again
                    end = 0
                tmp = self._offset_file.with_suffix(".tmp")
                tmp.write_text(str(end))
                os.replace(tmp, self._offset_file)
            if not todo[len(batch):]:
                return

    def _gap(self) -> dict[str, Any]:
        assert self.failing_since is not None
        ended = time.time()
        return {"started": self.failing_since, "started_iso": utc(self.failing_since), "ended": ended,
                "ended_iso": utc(ended), "spooled": self.pending, "dropped": self.dropped,
                "note": "the journal database was unreachable; observations were spooled on disk and are "
                        "written after this record, in the order observed"}
