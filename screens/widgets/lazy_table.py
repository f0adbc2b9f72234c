"""A DataTable that repaints only the cells that changed, and only does work for the rows on screen.

Textual's ``DataTable.update_cell`` bumps one table-wide counter that every render cache is keyed
on, so one changed cell re-renders every visible row and re-walks every row's offsets. At 500 hosts
and a round a second that was most of the dashboard's frame. Here a subclass says which rows have
new data (:meth:`LazyTable.mark_stale`) and how to build a row (:meth:`LazyTable.row_cells`):

- a stale row on screen is rebuilt at once; only its changed cells leave the render caches and only
  its lines are repainted;
- a stale row off screen costs nothing until it is about to be drawn (``render_lines``: scrolling,
  resizing, the cursor or a filter bringing it into view) or read (``get_row``/``get_cell``), so
  neither the operator nor a caller ever sees an old value.

This drops entries from DataTable's private caches. Textual is pinned exactly (STYLE.md); the test
``tests/test_ui_large_fleet.py`` compares every visible line with a table rendered from scratch.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, ColumnKey, RowKey

#: rows just outside the window that are kept fresh too (cheap; covers rounding of the scroll offset)
MARGIN = 2


class LazyTable(DataTable[Text]):
    """Rows keyed by strings, every row one line high; subclasses implement :meth:`row_cells`."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        #: what the table holds for each row, by column key (what the next rebuild is compared with)
        self._cells: dict[str, dict[str, Text]] = {}
        #: rows whose data changed since the table last took their cells in
        self._stale: set[str] = set()
        self._measuring = False

    # -- for subclasses ------------------------------------------------------------------

    def row_cells(self, key: str) -> dict[str, Text] | None:
        """Every cell of a row as it should read now (None: leave the row as it is)."""
        raise NotImplementedError

    def add_lazy_row(self, key: str, cells: dict[str, Text], placeholder: bool = False) -> None:
        """Add a row; ``placeholder``: its cells are blanks built later, when the row is shown or read."""
        self._cells[key] = cells
        self.add_row(*(cells.get(str(c.key.value), Text()) for c in self.ordered_columns), key=key)  # text-safe: Text
        if placeholder:
            self._stale.add(key)

    def mark_stale(self, keys: Iterable[str]) -> None:
        """These rows have new data: the ones on screen take it now, the others when shown or read."""
        self._stale.update(k for k in keys if k in self._cells)  # text-safe: a set of keys
        self._flush_visible()

    @property
    def stale_rows(self) -> frozenset[str]:
        """Rows holding old values that nobody has looked at yet (all of them off screen)."""
        return frozenset(self._stale)

    def clear(self, columns: bool = False) -> LazyTable:
        self._cells.clear()
        self._stale.clear()
        super().clear(columns)
        return self

    # -- staleness ------------------------------------------------------------------------

    def window_keys(self) -> list[str]:
        """Keys of the rows on screen (plus MARGIN either side)."""
        n = self.row_count
        if not n:
            return []
        top = int(self.scroll_offset.y)
        first, last = max(0, top - MARGIN), min(n, top + self.size.height + MARGIN)
        key_at = self._row_locations.get_key
        return [str(key_at(i).value) for i in range(first, last)]

    def _flush_visible(self) -> None:
        if self._stale:
            self._flush([k for k in self.window_keys() if k in self._stale])

    def _flush(self, keys: Iterable[str]) -> None:
        """Bring rows up to date: write the cells that differ and repaint only those."""
        changed: set[tuple[str, str]] = set()
        for key in keys:
            self._stale.discard(key)
            old = self._cells.get(key)
            new = self.row_cells(key)
            if old is None or new is None:
                continue
            data = self._data[RowKey(key)]
            for col, value in new.items():
                if _differs(old.get(col), value):
                    data[ColumnKey(col)] = value
                    changed.add((key, col))
            self._cells[key] = new
        if changed:
            self._invalidate(changed)

    def _invalidate(self, cells: set[tuple[str, str]]) -> None:
        """Drop the render caches' entries of these cells and their rows' lines; repaint those lines."""
        rows = {r for r, _ in cells}
        for ck in [ck for ck in self._cell_render_cache.keys() if (ck[0].value, ck[1].value) in cells]:
            self._cell_render_cache.discard(ck)
        for rk in [rk for rk in self._row_render_cache.keys() if rk[0].value in rows]:
            self._row_render_cache.discard(rk)
        indexes = {self._row_locations.get(RowKey(r)) for r in rows}
        header = self.header_height if self.show_header else 0
        ys = {header + i for i in indexes if i is not None}  # every row is one line: its line is its index
        for lk in [lk for lk in self._line_cache.keys() if lk[0] in ys]:
            self._line_cache.discard(lk)
        for ik in [ik for ik in self._row_renderable_cache.keys() if ik[1] in indexes]:
            self._row_renderable_cache.discard(ik)
        for i in indexes:
            if i is not None:
                self.refresh_row(i)

    # -- every way a row is drawn or read takes the stale rows in first ---------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._flush_visible()
        return super().render_lines(crop)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Textual measures every new row's cells on idle; our columns have fixed widths, so a
        placeholder measures as well as the real cells (building 500 rows here undid the laziness)."""
        self._measuring = True
        try:
            super()._update_dimensions(new_rows)
        finally:
            self._measuring = False

    def get_row(self, row_key: RowKey | str) -> list[CellType]:
        key = str(row_key.value if isinstance(row_key, RowKey) else row_key)
        if key in self._stale and not self._measuring:
            self._flush([key])
        return super().get_row(row_key)

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> CellType:
        key = str(row_key.value if isinstance(row_key, RowKey) else row_key)
        if key in self._stale:
            self._flush([key])
        return super().get_cell(row_key, column_key)

    def get_column(self, column_key: ColumnKey | str) -> Iterable[CellType]:
        if self._stale:
            self._flush(list(self._stale))
        return super().get_column(column_key)


def _differs(old: Text | None, new: Text) -> bool:
    """Text, style or spans: Rich's ``Text.__eq__`` ignores the base style, so a cell that only
    changes colour ("● up" dim -> green once its service is judged) would never be repainted."""
    return old is None or old.plain != new.plain or old.style != new.style or old.spans != new.spans

