"""Hosts × services: one glyph per check, coloured, with the status word in the cell's tooltip column."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from cockpit.model import FleetSnapshot
from screens import render

NOT_CHECKED = Text("·", style="dim")
CELL_WIDTH = 6  # "◐ degr": glyph, space and the status's first four letters


class ServicesGrid(DataTable[Text]):
    """Columns are services, rows hosts; a host not running a service shows ``·``."""

    DEFAULT_CSS = """
    ServicesGrid { height: 1fr; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, **kw)  # type: ignore[arg-type]
        self._services: list[str] = []
        self._hosts: list[str] = []
        self._cells: dict[tuple[str, str], Text] = {}

    def apply(self, snap: FleetSnapshot, force: bool = False) -> None:
        services = list(dict.fromkeys(r.service for h in snap.hosts for r in h.results))
        hosts = [h.name for h in snap.hosts]
        if services != self._services or hosts != self._hosts:
            self._rebuild(snap, services, hosts)
            return
        for h in snap.hosts:
            if not force and h.name not in snap.changed and snap.changed:
                continue
            have = {r.service: r for r in h.results}
            for s in services:
                cell = self._cell(have.get(s))
                if self._cells.get((h.name, s)) != cell:
                    self.update_cell(h.name, s, cell)
                    self._cells[(h.name, s)] = cell

    @staticmethod
    def _cell(result: object) -> Text:
        if result is None:
            return NOT_CHECKED
        st = result.status  # type: ignore[attr-defined]
        return Text(render.GLYPH[st] + " " + st[:4], style=render.STYLE[st])

    def _rebuild(self, snap: FleetSnapshot, services: list[str], hosts: list[str]) -> None:
        self.clear(columns=True)
        self._cells.clear()
        self._services, self._hosts = services, hosts
        # Explicit widths: Textual sizes auto-width columns only on idle and caches cells rendered
        # before that without their width, so a freshly rebuilt grid showed "web0" for "web01".
        self.add_column("Host", key="__host__", width=max([4, *(render.plain(h).cell_len for h in hosts)]))
        for s in services:
            label = render.plain(s[:12])
            self.add_column(label, key=s, width=max(CELL_WIDTH, label.cell_len))
        for h in snap.hosts:
            have = {r.service: r for r in h.results}
            row = [render.plain(h.name)]
            for s in services:
                cell = self._cell(have.get(s))
                self._cells[(h.name, s)] = cell
                row.append(cell)
            self.add_row(*row, key=h.name)
