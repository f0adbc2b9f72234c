"""Breakpoints and column widths of the dashboard: pure functions of the terminal's width and the fleet.

Wide terminals looked worse than 80×24 (a fixed 72-column right pane squeezed the table to four
columns at 120, and left a third empty at 200). Here every width comes from what there is to show:
the Host column from the longest name (up to :data:`HOST_CAP`, then an ellipsis in the middle), the
Reach column from the longest reach word, and the sparklines take what is left.

| width | layout |
| --- | --- |
| < :data:`FULL` (80×24 included) | compact columns (``m`` swaps to the others); table over events; grid and plan in tabs |
| :data:`FULL` to :data:`WIDE` (100-159) | every column; table, services grid and events stacked; plan in a tab |
| >= :data:`WIDE` (160+) | fleet and grid on the left; plan over events on the right (two fifths) |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: from this width every fleet column shows
FULL = 100
#: from this width the plan and the events stand beside the fleet
WIDE = 160

COLUMNS = (("host", "Host"), ("reach", "Reach"), ("cpu", "CPU"), ("mem", "Mem"), ("load", "Load1"),
           ("disk", "Disk"), ("svc", "Services"))
#: below FULL: two column sets, ``m`` swaps between them (Host, Reach and Services stay)
COMPACT_SETS = (("host", "reach", "cpu", "mem", "svc"), ("host", "reach", "load", "disk", "svc"))
#: widths of the columns whose content has a fixed size
FIXED = {"load": 5, "disk": 4, "svc": 14}
#: the Host column never takes more (the selection mark "▶ " included); longer names lose their middle
HOST_CAP = 26
#: a gauge is "sparkline 100%": the sparkline gets what the column has beyond the value and a space
GAUGE_VALUE = 4
SPARK_MIN, SPARK_MAX = 3, 40
PAD = 2  # a DataTable cell's padding, both sides together
SCROLLBAR = 1


def mode(width: int) -> str:
    """``-compact``, ``-full`` or ``-wide``: the CSS class the dashboard takes at this width."""
    return "-wide" if width >= WIDE else "-full" if width >= FULL else "-compact"


def middle_ellipsis(text: str, width: int) -> str:
    """``mba-m…work``: both ends of a long host name stay readable (they are what tells hosts apart)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


@dataclass(frozen=True)
class Columns:
    """The fleet table's columns: which, how wide, and the sparklines' width."""

    keys: tuple[str, ...]
    widths: tuple[int, ...]
    spark: int

    @property
    def host_text(self) -> int:
        """Characters of a host name that fit (the column less the selection mark)."""
        return self.widths[self.keys.index("host")] - 2


def fleet_columns(table_width: int, longest_name: int, longest_reach: int, compact_set: int = 0,
                  compact: bool = False) -> Columns:
    """Columns for a table ``table_width`` cells wide: every column, or a compact set, sized to content."""
    keys = COMPACT_SETS[compact_set % len(COMPACT_SETS)] if compact else tuple(k for k, _ in COLUMNS)
    host = min(HOST_CAP, max(len("Host") - 2, longest_name) + 2)
    reach = max(len("Reach"), longest_reach)
    fixed = {"host": host, "reach": reach, **FIXED}
    gauges = [k for k in keys if k in ("cpu", "mem")]
    used = sum(fixed[k] for k in keys if k in fixed) + PAD * len(keys) + SCROLLBAR
    each = (table_width - used) // len(gauges) if gauges else 0
    spark = max(SPARK_MIN, min(SPARK_MAX, each - GAUGE_VALUE - 1))
    widths = tuple(fixed[k] if k in fixed else spark + 1 + GAUGE_VALUE for k in keys)
    return Columns(keys, widths, spark)


def labels(keys: Sequence[str]) -> list[str]:
    names = dict(COLUMNS)
    return [names[k] for k in keys]
