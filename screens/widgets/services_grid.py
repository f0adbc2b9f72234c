"""Hosts × services: one glyph per check, coloured, with the status word in the cell's tooltip column."""

from __future__ import annotations

from rich.text import Text

from cockpit.model import CheckResult, FleetSnapshot, HostState
from screens import render
from screens.widgets.lazy_table import LazyTable

NOT_CHECKED = Text("·", style="dim")
CELL_WIDTH = 6  # "◐ degr": glyph, space and the status's first four letters
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

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, **kw)
        self._services: list[str] = []
        self._hosts: list[str] = []
        self._states: dict[str, HostState] = {}

    def apply(self, snap: FleetSnapshot, force: bool = False) -> None:
        # a compose project's containers (SERVICE/PART) have their rows in the host detail, not a column each
        services = list(dict.fromkeys(r.service for h in snap.hosts for r in h.results if "/" not in r.service))
        hosts = [h.name for h in snap.hosts]
        for h in snap.hosts:
            self._states[h.name] = h
        if services != self._services or hosts != self._hosts:
            self._rebuild(snap, services, hosts)
            return
        self.mark_stale(hosts if force or not snap.changed else snap.changed)

    def row_cells(self, key: str) -> dict[str, Text] | None:
        h = self._states.get(key)
        if h is None:
            return None
        have = {r.service: r for r in h.results}
        return {s: status_cell(have.get(s)) for s in self._services}

    def _rebuild(self, snap: FleetSnapshot, services: list[str], hosts: list[str]) -> None:
        self.clear(columns=True)
        self._services, self._hosts = services, hosts
        # Explicit widths: Textual sizes auto-width columns only on idle and caches cells rendered
        # before that without their width, so a freshly rebuilt grid showed "web0" for "web01".
        self.add_column("Host", key="__host__", width=max([4, *(render.plain(h).cell_len for h in hosts)]))
        for s in services:
            label = render.plain(s[:12])
            self.add_column(label, key=s, width=max(CELL_WIDTH, label.cell_len))
        for name in hosts:  # the status cells are built when the row is drawn or read
            self.add_lazy_row(name, {"__host__": render.plain(name)}, placeholder=True)
        self._flush_visible()
