"""The fleet table: one row per host, updated cell by cell (never rebuilt on a round).

Only rows on screen cost anything on a round; the others are rebuilt when they are about to be
drawn (:class:`screens.widgets.lazy_table.LazyTable`). Which columns show and how wide they are
comes from :mod:`screens.layout` (the terminal's width and the fleet's names). Which rows, and in what
order, from :mod:`cockpit.fleetquery` (the ``/`` filter language and the sort keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize

from cockpit.fleetquery import SORT_KEYS, FleetFilter, parse_filter, sort_hosts
from cockpit.model import FleetSnapshot, HostState
from screens import layout, render
from screens.widgets.lazy_table import LazyTable

#: the column that shows each sort key (its label gets the arrow)
SORT_COLUMN = {"name": "host", "status": "svc", "cpu": "cpu", "mem": "mem", "load": "load"}
#: a host's figures are stale when it no longer answers; their age then ticks (once a second, on screen)
FRESH_REACH = frozenset({"ok", "connecting"})


def stale_age(h: HostState, now: float | None) -> float | None:
    """Seconds since the host's shown figures were measured, when it no longer answers (else None)."""
    if now is None or h.reach in FRESH_REACH or h.load is None:
        return None
    return max(0.0, now - h.load.at)


def host_cells(h: HostState, selected: bool, spark: int = 5, host_width: int = layout.HOST_CAP - 2,
               now: float | None = None) -> dict[str, Text]:
    """Every cell of a host's row, from its state alone (``now``: to age the figures of a silent host)."""
    name = Text("▶ " if selected else "  ", style="bold cyan")
    name.append(render.plain(layout.middle_ellipsis(render.clean(h.name), host_width)))
    ld = h.load
    hist = h.history
    stale = stale_age(h, now)
    load1 = Text("–", style="dim") if ld is None or ld.load1 is None else Text(f"{ld.load1:.2f}")
    disk = Text("–", style="dim") if ld is None or ld.disk is None else Text(f"{ld.disk:.0f}%")
    if stale is not None:
        load1.stylize("dim")
        disk.stylize("dim")
    else:
        if ld is not None and ld.load1 is not None and ld.ncpu:
            load1.stylize(render.level_style(100 * ld.load1 / ld.ncpu, 100, 200))
        if ld is not None and ld.disk is not None:
            disk.stylize(render.level_style(ld.disk, 80, 90))
    return {
        "host": name,
        "reach": render.reach(h),
        "cpu": render.gauge(ld.cpu if ld else None, [x.cpu for x in hist], spark, stale),
        "mem": render.gauge(ld.mem if ld else None, [x.mem for x in hist], spark, stale),
        "load": load1,
        "disk": disk,
        "svc": render.host_services(h),
    }


class FleetTable(LazyTable):
    """Rows keyed by host name; ``apply`` touches only cells whose content changed, on screen."""

    DEFAULT_CSS = """
    FleetTable { height: 1fr; }
    """
    #: bound here, the pane it acts on: with the plan focused, `o` is not the fleet's
    BINDINGS = [Binding("o", "sort_menu", "Sort", show=False, tooltip="Sort the fleet: name, status, CPU, memory, load "
                        "(the same key again reverses)")]

    def __init__(self, clock: Callable[[], float] | None = None, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self._states: dict[str, HostState] = {}
        self.selected: set[str] = set()
        self.query = FleetFilter()
        self.sort_key: str | None = None  # None: the config's order
        self.sort_reverse = False
        self._clock = clock
        self.width_for = 80  # the width the columns were laid out for
        self.compact = True
        self.compact_set = 0
        self._reach_len: dict[str, int] = {}
        self.columns_now = layout.fleet_columns(80, 0, 0, compact=True)

    @property
    def spark(self) -> int:
        return self.columns_now.spark

    def on_mount(self) -> None:
        self._columns()
        if self._clock is not None:
            self.set_interval(1.0, self._tick_stale)  # ages of silent hosts; only rows on screen redraw

    @property
    def filter_text(self) -> str:
        return self.query.text

    def _columns(self) -> None:
        sorted_col = SORT_COLUMN.get(self.sort_key or "")
        for key, label, width in zip(self.columns_now.keys, layout.labels(self.columns_now.keys),
                                     self.columns_now.widths, strict=True):
            if key == sorted_col:
                label = label[: max(1, width - 1)] + ("▲" if self.sort_ascending else "▼")
            self.add_column(label, key=key, width=width)

    @property
    def sort_ascending(self) -> bool:
        """Whether the rows read from low to high (names A-Z, figures lowest first, status best first)."""
        if self.sort_key is None:
            return True
        high_first = SORT_KEYS[self.sort_key][2] or self.sort_key == "status"  # status: worst first
        return high_first == self.sort_reverse

    def _order(self, hosts: list[HostState]) -> list[HostState]:
        """The rows the table lists: the filter applied, in the sort's order (the config's order unsorted)."""
        want = self.query.select(hosts) if self.query.terms else list(hosts)
        return sort_hosts(want, self.sort_key, self.sort_reverse) if self.sort_key else want

    def sort_by(self, key: str) -> None:
        """Sort on ``key``; the same key again reverses. Rows move; the cursor stays on its host."""
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
        keep = self.current_host
        self.clear(columns=True)
        self._columns()
        self._rebuild(self._order(list(self._states.values())), keep)

    def action_sort_menu(self) -> None:
        from screens.sort_picker import SortPicker

        def chosen(key: str | None) -> None:
            if key is not None:
                self.sort_by(key)
                label = SORT_KEYS[key][0]
                self.notify(f"fleet sorted by {label}, {self.sort_words()}", timeout=3, markup=False)

        self.app.push_screen(SortPicker(self.sort_key, self.sort_reverse), chosen)

    def sort_words(self) -> str:
        if self.sort_key == "name":
            return "A to Z" if self.sort_ascending else "Z to A"
        if self.sort_key == "status":
            return "worst first" if not self.sort_reverse else "best first"
        return "highest first" if not self.sort_ascending else "lowest first"

    def lay_out(self, width: int, compact: bool, compact_set: int | None = None) -> None:
        """Columns for a table ``width`` cells wide; rebuilt only when their set or a width changes."""
        self.width_for, self.compact = width, compact
        if compact_set is not None:
            self.compact_set = compact_set
        cols = layout.fleet_columns(width, max(map(len, self._states), default=0),
                                    max(self._reach_len.values(), default=0), self.compact_set, compact)
        if cols == self.columns_now:
            return
        self.columns_now = cols
        rows = [self._states[n] for n in self.visible_hosts() if n in self._states]
        keep = self.current_host  # before clear(): the cursor stays on its host
        self.clear(columns=True)
        self._columns()
        self._rebuild(rows, keep)

    def on_resize(self, event: Resize) -> None:
        self.lay_out(event.size.width, self.compact)  # sparklines grow with the column, names get room

    def _tick_stale(self) -> None:
        silent = [n for n, h in self._states.items() if h.reach not in FRESH_REACH and h.load is not None]
        if silent:
            self.mark_stale(silent)

    @property
    def current_host(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:
            return None

    def visible_hosts(self) -> list[str]:
        """The hosts the table lists (the filter applied), in order; not only those on screen."""
        return [str(k.value) for k in self.rows]

    def row_cells(self, key: str) -> dict[str, Text] | None:
        h = self._states.get(key)
        if h is None:
            return None
        cells = host_cells(h, key in self.selected, self.spark, self.columns_now.host_text,
                           None if self._clock is None else self._clock())
        return {k: cells[k] for k in self.columns_now.keys}

    def apply(self, snap: FleetSnapshot, changed: Iterable[str] | None = None) -> None:
        """Bring rows up to date with a snapshot: add, remove and update only what differs."""
        moved = None if changed is None else set(changed)
        for h in snap.hosts:
            self._states[h.name] = h
            if moved is None or h.name in moved or h.name not in self._reach_len:
                self._reach_len[h.name] = len(render.reach(h).plain)
        want = self._order(list(snap.hosts))
        self.lay_out(self.width_for, self.compact)  # a longer name or reach word widens its column
        if [h.name for h in want] != self.visible_hosts():
            self._rebuild(want)
            return
        self.mark_stale(changed if changed is not None else (h.name for h in snap.hosts))

    def _rebuild(self, hosts: list[HostState], keep: str | None = None) -> None:
        """Only when the set or order of rows changes (filter, new host); keeps the cursor host.

        Rows start as placeholders: only those drawn or read are built (a 500-host filter keystroke
        builds the ~40 rows on screen).
        """
        keep = keep or self.current_host
        self.clear()
        blank: dict[str, Text] = {}
        for h in hosts:
            self.add_lazy_row(h.name, blank, placeholder=True)
        if keep is not None and keep in self._cells:
            self.move_cursor(row=self.get_row_index(keep))
        self._flush_visible()

    def toggle_selected(self, host: str) -> None:
        if host in self.selected:
            self.selected.discard(host)
        else:
            self.selected.add(host)
        self.mark_stale([host])

    def refilter(self, text: str, snap: FleetSnapshot | None) -> None:
        """Apply the ``/`` filter's text; a term that does not parse raises FilterError and keeps the last filter.

        Kept even before the first snapshot: the first round then lists only what matches (it listed every
        host, the box saying ``down``, until the next keystroke).
        """
        self.query = parse_filter(text)
        if snap is not None:
            self._rebuild(self._order(list(snap.hosts)))
