"""The fleet table: one row per host, updated cell by cell (never rebuilt on a round).

Only rows on screen cost anything on a round; the others are rebuilt when they are about to be
drawn (:class:`screens.widgets.lazy_table.LazyTable`).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from cockpit.model import FleetSnapshot, HostState
from screens import render
from screens.widgets.lazy_table import LazyTable

COLUMNS = (("host", "Host"), ("reach", "Reach"), ("cpu", "CPU"), ("mem", "Mem"), ("load", "Load1"),
           ("disk", "Disk"), ("svc", "Services"))
#: fixed widths (Textual's auto widths never shrink back); cpu/mem depend on the sparkline width
WIDTHS = {"host": 12, "reach": 14, "load": 5, "disk": 4, "svc": 14}


def host_cells(h: HostState, selected: bool, spark: int = 5) -> dict[str, Text]:
    """Every cell of a host's row, from its state alone."""
    name = Text("▶ " if selected else "  ", style="bold cyan")
    name.append(render.plain(h.name))
    ld = h.load
    hist = h.history
    load1 = Text("–", style="dim") if ld is None or ld.load1 is None else Text(f"{ld.load1:.2f}")
    if ld is not None and ld.load1 is not None and ld.ncpu:
        load1.stylize(render.level_style(100 * ld.load1 / ld.ncpu, 100, 200))
    disk = Text("–", style="dim") if ld is None or ld.disk is None else Text(f"{ld.disk:.0f}%", style=render.level_style(ld.disk, 80, 90))
    svc = render.host_services(h)
    return {
        "host": name,
        "reach": render.reach(h),
        "cpu": render.gauge(ld.cpu if ld else None, [x.cpu for x in hist], spark),
        "mem": render.gauge(ld.mem if ld else None, [x.mem for x in hist], spark),
        "load": load1,
        "disk": disk,
        "svc": svc,
    }


def matches(h: HostState, text: str) -> bool:
    """The `/` filter: a name, a tag, a status word or a reach code (substring, any case)."""
    if not text:
        return True
    t = text.lower()
    words = [h.name, h.reach, *h.tags, *(r.status for r in h.results), *(f"tag:{x}" for x in h.tags)]
    if h.worst:
        words.append(h.worst)
    return any(t in w.lower() for w in words)


class FleetTable(LazyTable):
    """Rows keyed by host name; ``apply`` touches only cells whose content changed, on screen."""

    DEFAULT_CSS = """
    FleetTable { height: 1fr; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self._states: dict[str, HostState] = {}
        self.selected: set[str] = set()
        self.filter_text = ""
        self.spark = 5

    def on_mount(self) -> None:
        self._columns()

    def _columns(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=WIDTHS.get(key, self.spark + 5))

    def set_spark(self, width: int) -> None:
        """Narrow terminals get shorter sparklines so every column fits in 80 columns."""
        if width == self.spark:
            return
        self.spark = width
        states = [self._states[n] for n in self.visible_hosts() if n in self._states]
        keep = self.current_host  # before clear(): the cursor stays on its host
        self.clear(columns=True)
        self._columns()
        self._rebuild(states, keep)

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
        return None if h is None else host_cells(h, key in self.selected, self.spark)

    def apply(self, snap: FleetSnapshot, changed: Iterable[str] | None = None) -> None:
        """Bring rows up to date with a snapshot: add, remove and update only what differs."""
        want = [h for h in snap.hosts if matches(h, self.filter_text)] if self.filter_text else list(snap.hosts)
        for h in snap.hosts:
            self._states[h.name] = h
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

    def refilter(self, text: str, snap: FleetSnapshot) -> None:
        self.filter_text = text
        self._rebuild([h for h in snap.hosts if matches(h, text)])
