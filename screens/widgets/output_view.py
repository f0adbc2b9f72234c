"""What the output pane shows, searches, saves and copies: read from the spool files, never from a widget.

The pane's log widgets keep only the latest lines, and under a flood the engine hands out only the
latest of each batch; each host's spool file (:mod:`cockpit.engine.spool`) has everything. So a view
is built from the spool: one host's file, or the merged view of every host of a rolling step in batch
order (each line tagged ``[host]``). A host without a spool file (no state directory, or the file could
not be written) falls back to the tail the engine keeps in memory, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cockpit.engine import ActionRun, HostRun, read_tail

#: the most of a spool file a view reads (the spool's own cap is 16 MiB per host)
READ_LIMIT = 32 * 1024 * 1024
MERGED = "(all)"  # the merged view's name where a host name would be


@dataclass(frozen=True)
class Source:
    """A view's lines and, for each, the host and line number it came from (1-based)."""

    name: str  # a host, or MERGED
    lines: tuple[str, ...]
    origins: tuple[tuple[str, int], ...]
    note: str = ""  # why some of it is not from a spool file


def spool_of(hr: HostRun) -> Path | None:
    """The host's spool file when it exists."""
    if not hr.spool:
        return None
    path = Path(hr.spool)
    return path if path.is_file() else None


def read_lines(path: Path, limit: int = READ_LIMIT) -> list[str]:
    """Every line of a spool file (of its last ``limit`` bytes); [] when it is gone."""
    return read_tail(path, max_lines=1 << 62, max_bytes=limit)


def count_lines(path: Path) -> int:
    """Complete lines in a spool file (0 when it is gone)."""
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return 0


def host_lines(hr: HostRun) -> tuple[list[str], str]:
    """One host's whole output: the spool file, or the in-memory tail with a note saying so."""
    path = spool_of(hr)
    if path is not None:
        return read_lines(path), ""
    lines = hr.output.splitlines()
    why = hr.error if hr.spool == "" and hr.error else "no spool file"
    return lines, f"{hr.host}: {why}; showing the last {len(lines)} lines kept in memory" if lines else ""


def host_source(hr: HostRun) -> Source:
    lines, note = host_lines(hr)
    return Source(hr.host, tuple(lines), tuple((hr.host, i + 1) for i in range(len(lines))), note)


def merged_source(runs: Sequence[ActionRun]) -> Source:
    """Every host of every batch, in batch order, each line tagged with its host."""
    lines: list[str] = []
    origins: list[tuple[str, int]] = []
    notes: list[str] = []
    for run in runs:
        for hr in run.runs:
            own, note = host_lines(hr)
            if note:
                notes.append(note)
            lines += [f"[{hr.host}] {line}" for line in own]
            origins += [(hr.host, i + 1) for i in range(len(own))]
    return Source(MERGED, tuple(lines), tuple(origins), "; ".join(notes))


def find(lines: Sequence[str], needle: str) -> list[int]:
    """Indexes of the lines holding ``needle`` (plain text, case-insensitive)."""
    want = needle.casefold()
    return [i for i, line in enumerate(lines) if want in line.casefold()]


def saved_dir(runs: Sequence[ActionRun]) -> Path | None:
    """``<state_dir>/saved``: beside the spool directory of the view's hosts (None without one)."""
    for run in runs:
        for hr in run.runs:
            if hr.spool:
                return Path(hr.spool).parent.parent / "saved"
    return None
