"""Each action's output per host, spooled to a file and handed to listeners in coalesced batches.

A flood (``seq 1 200000`` on three hosts) used to reach the screen as one message per chunk and
froze it for ~20 s, long enough for healthy probes to miss their deadlines. Here the output goes
to disk (bounded), and listeners get at most one batch per host every :data:`FLUSH_EVERY`
seconds: complete lines only, and for a listener that asks for it, only the latest lines.

The spool file (``<state_dir>/spool/action-<id>-<host>.log``, UTF-8) holds the output as the
cockpit showed it: sanitised, redacted, stdout and stderr interleaved as they came, one line per
line. When it reaches :data:`SPOOL_CAP` bytes the following lines are counted, not written,
except the last :data:`TAIL_AFTER_CAP`, which are written at the end after one marker line::

    [cockpit] 123456 lines dropped (spool capped at 16777216 bytes); the last 1000 lines follow

A line longer than :data:`LINE_LIMIT` characters is split. Spool files are never read back by
the engine; deleting them loses only what the pane can show again.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import IO

SPOOL_CAP = 16 * 1024 * 1024  # bytes written per host per action before lines are dropped
TAIL_AFTER_CAP = 1000  # lines kept after the cap, written after the marker when the host ends
LINE_LIMIT = 64 * 1024  # characters; a longer "line" (no newline in 50 MB) is split
FLUSH_EVERY = 0.1  # seconds between two batches of one action to the listeners (at most 10 a second)
MARKER_PREFIX = "[cockpit] "
DROPPED = re.compile(r"^\[cockpit\] (\d+) lines dropped")


def spool_path(directory: Path, action_id: int, host: str) -> Path:
    """Where one host's output of one action goes (host names made file-safe)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host)
    return directory / f"action-{action_id}-{safe}.log"


def dropped_marker(count: int, cap: int, tail: int) -> str:
    return f"{MARKER_PREFIX}{count} lines dropped (spool capped at {cap} bytes); the last {tail} lines follow"


class Spool:
    """One host's output of one action: lines to a capped file, and the lines not yet handed out."""

    def __init__(self, path: Path | None, cap: int = SPOOL_CAP, tail: int = TAIL_AFTER_CAP) -> None:
        self.path = path
        self.cap = cap
        self.lines = 0  # complete lines seen
        self.dropped = 0  # lines not written because of the cap (the tail is written at the end)
        self.error = ""  # why the file could not be written (the output still reaches the screen)
        self._written = 0
        self._file: IO[str] | None = None
        self._partial = ""
        self._tail: deque[str] = deque(maxlen=tail)
        self._pending: list[str] = []  # complete lines not yet handed to listeners
        self._skipped = 0  # lines trimmed from _pending (listeners only want the latest)
        self.keep = 0  # 0: listeners want every line; else only the latest ``keep``
        self.closed = False

    def write(self, text: str) -> None:
        """Add a chunk (sanitised, redacted): complete lines go to the file and to the pending batch."""
        buf = self._partial + text
        if "\n" not in buf and len(buf) <= LINE_LIMIT:
            self._partial = buf
            return
        lines = buf.split("\n")
        self._partial = lines.pop()
        while len(self._partial) > LINE_LIMIT:
            lines.append(self._partial[:LINE_LIMIT])
            self._partial = self._partial[LINE_LIMIT:]
        self._add(lines)

    def _add(self, lines: list[str]) -> None:
        if not lines:
            return
        self.lines += len(lines)
        self._to_file(lines)
        self._pending.extend(lines)
        if self.keep and len(self._pending) > 2 * self.keep:
            cut = len(self._pending) - self.keep
            self._skipped += cut
            del self._pending[:cut]

    def _to_file(self, lines: list[str]) -> None:
        if self.path is None or self.error:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # output may say more than the screen
                self._file = self.path.open("w", encoding="utf-8", errors="replace")
            room = self.cap - self._written
            if room > 0:
                block = "\n".join(lines) + "\n"
                size = len(block) if block.isascii() else len(block.encode("utf-8", "replace"))
                if size <= room:
                    self._file.write(block)
                    self._written += size
                    return
                kept = 0
                for line in lines:  # the cap falls inside this block
                    n = len(line.encode("utf-8", "replace")) + 1
                    if n > room:
                        break
                    self._file.write(line + "\n")
                    room -= n
                    kept += 1
                self._written = self.cap
                lines = lines[kept:]
            self.dropped += len(lines)
            self._tail.extend(lines)
        except OSError as exc:
            self.error = f"output spool {self.path}: {exc.strerror or exc}"
            self._close_file()

    def take(self, final: bool = False) -> tuple[list[str], int]:
        """The lines not yet handed out and how many were skipped before them; ``final`` adds the partial line."""
        if final and self._partial:
            self._add([self._partial])
            self._partial = ""
        lines, skipped = self._pending, self._skipped
        self._pending, self._skipped = [], 0
        if self.keep and len(lines) > self.keep:
            skipped += len(lines) - self.keep
            lines = lines[-self.keep:]
        if self._file is not None:
            try:
                self._file.flush()  # a reader of the spool sees what the screen shows
            except OSError:
                pass
        return lines, skipped

    @property
    def lost(self) -> int:
        """Lines not in the file: dropped by the cap and not among the last lines written after the marker."""
        return max(0, self.dropped - len(self._tail))

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def close(self) -> None:
        """The host ended: the partial line and, when capped, the marker and the last lines."""
        if self.closed:
            return
        self.closed = True
        if self._partial:
            self._add([self._partial])
            self._partial = ""
        if self._file is not None and self.dropped:
            tail = list(self._tail)
            try:
                self._file.write(dropped_marker(self.lost, self.cap, len(tail)) + "\n")
                self._file.write("\n".join(tail) + ("\n" if tail else ""))
            except OSError as exc:
                self.error = f"output spool {self.path}: {exc.strerror or exc}"
        self._close_file()

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None


def read_tail(path: Path, max_lines: int = 500, max_bytes: int = 256 * 1024) -> list[str]:
    """The last lines of a spool file (what a pane shows again); [] when it is gone."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    lines = data.split("\n")
    if size > max_bytes:
        lines = lines[1:]  # the first one is cut
    if lines and lines[-1] == "":
        lines.pop()
    return lines[-max_lines:]
