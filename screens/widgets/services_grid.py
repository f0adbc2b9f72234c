"""Hosts × services: one glyph per check, coloured, with the status word in the cell's tooltip column.

``%`` on the dashboard switches the cells to each service's own CPU and memory (``screens.usage``), with
their history, thresholds and, for a host that no longer answers, their age.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from cockpit.model import CheckResult, FleetSnapshot, HostState
from screens import render, usage
from screens.widgets.lazy_table import LazyTable

NOT_CHECKED = Text("·", style="dim")
CELL_WIDTH = 6  # "◐ degr": glyph, space and the status's first four letters
USAGE_WIDTH = 20  # "▂▃▅  37% ▂▃▅  182M": CPU and memory gauges
#: one cell per status, shared (cells are never changed in place)
_CELLS: dict[str, Text] = {}


def status_cell(result: CheckResult | None) -> Text:
    """The observed status in words, coloured by the judgment: a planned "down" is dim, never red."""
    if result is None:
        return NOT_CHECKED
    st = result.status
    style = render.judged_style(result)
    cell = _CELLS.get(st + style)
    if cell is None:
        cell = _CELLS[st + style] = Text(render.GLYPH[st] + " " + st[:4], style=style)
    return cell


class ServicesGrid(LazyTable):
    """Columns are services, rows hosts; a host not running a service shows ``·``.

    Like the fleet table, a round only costs the rows on screen (:class:`LazyTable`).
    """

    DEFAULT_CSS = """
    ServicesGrid { height: 1fr; }
    """

    def __init__(self, clock: Callable[[], float] | None = None, **kw: object) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, **kw)
        self._services: list[str] = []
        self._hosts: list[str] = []
        self._states: dict[str, HostState] = {}
        self._clock = clock
        self.usage = False  # cells show each service's CPU and memory instead of its status
        self._wide: frozenset[str] = frozenset()  # services with figures: their columns are USAGE_WIDTH wide

    def on_mount(self) -> None:
        if self._clock is not None:
            self.set_interval(1.0, self._tick_stale)  # ages of silent hosts' figures; only rows on screen redraw

    def _tick_stale(self) -> None:
        if self.usage:
            silent = [n for n, h in self._states.items() if h.reach not in ("ok", "connecting")]
            if silent:
                self.mark_stale(silent)

    def set_usage(self, on: bool) -> None:
        """Switch the cells between status and resources (columns are resized, rows rebuilt)."""
        if on != self.usage:
            self.usage = on
            if self._services or self._hosts:
                self._rebuild(self._services, self._hosts)

    def apply(self, snap: FleetSnapshot, force: bool = False) -> None:
        # a compose project's containers (SERVICE/PART) have their rows in the host detail, not a column each
        services = list(dict.fromkeys(r.service for h in snap.hosts for r in h.results if "/" not in r.service))
        hosts = [h.name for h in snap.hosts]
        for h in snap.hosts:
            self._states[h.name] = h
        if services != self._services or hosts != self._hosts or (self.usage and self._with_figures() != self._wide):
            self._rebuild(services, hosts)
            return
        self.mark_stale(hosts if force or not snap.changed else snap.changed)

    def row_cells(self, key: str) -> dict[str, Text] | None:
        h = self._states.get(key)
        if h is None:
            return None
        have = {r.service: r for r in h.results}
        if not self.usage:
            return {s: status_cell(have.get(s)) for s in self._services}
        now = self._clock() if self._clock is not None else None
        return {s: usage.usage_cell(have.get(s), h, usage.stale_age(h, have.get(s), now)) or status_cell(have.get(s))
                for s in self._services}

    def _with_figures(self) -> frozenset[str]:
        return frozenset(r.service for h in self._states.values() for r in h.results if usage.has_figures(r))

    def _rebuild(self, services: list[str], hosts: list[str]) -> None:
        self._wide = self._with_figures() if self.usage else frozenset()
        self.clear(columns=True)
        self._services, self._hosts = services, hosts
        # Explicit widths: Textual sizes auto-width columns only on idle and caches cells rendered
        # before that without their width, so a freshly rebuilt grid showed "web0" for "web01".
        self.add_column("Host", key="__host__", width=max([4, *(render.plain(h).cell_len for h in hosts)]))
        for s in services:
            label = render.plain(s[:12])
            self.add_column(label, key=s, width=max(USAGE_WIDTH if s in self._wide else CELL_WIDTH, label.cell_len))
        for name in hosts:  # the status cells are built when the row is drawn or read
            self.add_lazy_row(name, {"__host__": render.plain(name)}, placeholder=True)
        self._flush_visible()
