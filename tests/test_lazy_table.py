"""LazyTable repaints a cell whose colour changes even when its text does not.

Rich's ``Text.__eq__`` compares the text and spans, not the base style: "● up" dim and "● up"
green are equal to it, so a service judged up after its step kept its dim cell (the lifecycle
pilot test caught it, intermittently: only when a round observed "up" before the step ended).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from screens.widgets.lazy_table import LazyTable


class _Grid(LazyTable):
    def __init__(self) -> None:
        super().__init__()
        self.current: dict[str, Text] = {"svc": Text("● up", style="dim")}

    def row_cells(self, key: str) -> dict[str, Text] | None:
        return dict(self.current)


class _App(App[None]):
    def compose(self) -> ComposeResult:
        yield _Grid()


async def test_a_cell_whose_style_alone_changes_is_repainted() -> None:
    app = _App()
    async with app.run_test(size=(40, 6)) as pilot:
        grid = app.query_one(_Grid)
        grid.add_column("svc", key="svc")
        grid.add_lazy_row("h1", grid.row_cells("h1"))  # type: ignore[arg-type]
        await pilot.pause()
        grid.current = {"svc": Text("● up", style="green")}
        grid.mark_stale(["h1"])
        await pilot.pause()
        grid._flush_visible()
        await pilot.pause()
        cell = grid.get_row("h1")[0]
        assert (str(cell), str(cell.style)) == ("● up", "green")
