"""B4 reference: a plain Textual DataTable of N rows, every row's cells changed each round.

Usage: .venv/bin/python bench/b4_plain_table.py --rows 500 --cols 7 --rounds 30

What Textual itself costs to take in and render one batch of cell updates on this machine, measured the
same way as bench/b4_ui.py (update time inside ``batch_update``, then every screen update, including the
terminal output a real driver would write). ``--visible-only`` updates only the rows on screen: what the
dashboard could reach by deferring off-screen rows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable

from common import log, pct, versions, write_result

SIZE = (160, 48)


class Plain(App[None]):
    def __init__(self, rows: int, cols: int) -> None:
        super().__init__()
        self.n, self.c = rows, cols

    def compose(self) -> ComposeResult:
        yield DataTable(id="t")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for j in range(self.c):
            t.add_column(f"c{j}", key=f"c{j}", width=10)
        for i in range(self.n):
            t.add_row(*(Text(f"{i}:{j}") for j in range(self.c)), key=f"r{i}")


async def run(rows: int, cols: int, rounds: int, visible_only: bool) -> dict[str, Any]:
    app = Plain(rows, cols)
    updates: list[tuple[float, float]] = []
    original = Screen._on_timer_update

    def on_timer_update(screen):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        original(screen)
        updates.append((t0, time.perf_counter() - t0))

    Screen._on_timer_update = on_timer_update  # type: ignore[method-assign]
    original_display = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        from textual._compositor import CompositorUpdate

        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)
        return original_display(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    rng = random.Random(1)
    totals, applies = [], []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        t = app.query_one(DataTable)
        for _ in range(rounds):
            start = time.perf_counter()
            targets = range(min(rows, SIZE[1])) if visible_only else range(rows)
            with app.batch_update():
                for i in targets:
                    for j in range(cols):
                        t.update_cell(f"r{i}", f"c{j}", Text(f"{rng.random():.4f}", style="green"))
            apply = time.perf_counter() - start
            await asyncio.sleep(0.5)
            upd = sum(d for (t0, d) in updates if t0 >= start)
            applies.append(apply * 1000)
            totals.append((apply + upd) * 1000)
    return {"rows": rows, "cols": cols, "rounds": rounds, "visible_only": visible_only, "terminal": f"{SIZE[0]}x{SIZE[1]}",
            "update_ms_p50": round(pct(applies, 50), 2),
            "update_plus_render_ms": {"p50": round(pct(totals, 50), 2), "p99": round(pct(totals, 99), 2)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--cols", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--visible-only", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    res = asyncio.run(run(a.rows, a.cols, a.rounds, a.visible_only))
    log(res)
    write_result(a.out or f"b4_plain_table_{a.rows}{'_visible' if a.visible_only else ''}",
                 {"versions": versions(peers=False), **res})


if __name__ == "__main__":
    main()
