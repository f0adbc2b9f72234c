"""Action output spooled per host under the state directory, capped with a marker, handed out in
coalesced batches (issue 19)."""

from __future__ import annotations

import time
from pathlib import Path

from cockpitcfg import write_config

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.engine.spool import DROPPED, FLUSH_EVERY, Spool, read_tail


class Listener:
    """What the screen is: it wants only the latest lines of each batch."""

    def __init__(self, tail: int) -> None:
        self.output_tail = tail
        self.batches: list[tuple[float, str, int, int]] = []  # (when, host, lines, skipped)
        self.last: dict[str, str] = {}

    def action_changed(self, run: object) -> None:
        pass

    def action_output(self, action_id: int, host: str, text: str, skipped: int = 0) -> None:
        assert text == "" or text.endswith("\n")
        self.batches.append((time.monotonic(), host, text.count("\n"), skipped))
        if text:
            self.last[host] = text.splitlines()[-1]


def test_spool_caps_with_a_marker_and_keeps_the_last_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s" / "a.log", cap=1000, tail=5)
    data = "".join(f"{j}\n" for j in range(1, 1001))
    for i in range(0, len(data), 13):  # chunks that cut lines anywhere
        spool.write(data[i:i + 13])
    spool.write("no newline at the end")
    spool.close()
    text = (tmp_path / "s" / "a.log").read_text()
    head, marker, *tail = text.split("\n[cockpit] ")[0], *text.split("\n[cockpit] ")[1].split("\n")
    assert head.startswith("1\n2\n3\n") and len(head.encode()) < 1000
    m = DROPPED.match("[cockpit] " + marker)
    assert m is not None and "the last 5 lines follow" in marker
    assert tail[:5] == ["997", "998", "999", "1000", "no newline at the end"]
    kept = head.count("\n") + 1
    assert int(m.group(1)) + kept + 5 == 1001 == spool.lines
    assert read_tail(tmp_path / "s" / "a.log", 2) == ["1000", "no newline at the end"]


def test_a_line_without_end_is_split_not_held(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "a.log")
    spool.keep = 3
    spool.write("x" * 200_000)
    lines, skipped = spool.take()
    assert lines and all(len(line) == 64 * 1024 for line in lines) and skipped == 0
    spool.close()
    assert (tmp_path / "a.log").stat().st_size == 200_000 + 4


async def test_flood_is_spooled_and_handed_out_in_bounded_batches(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, "", hosts=["h1", "h2"])
    async with Engine(load_config(path)) as engine:
        engine.actions.spool_cap = 200_000
        listener = Listener(tail=50)
        engine.actions.listeners.append(listener)
        began = time.monotonic()
        run = await engine.actions.run("flood", "seq 1 100000", ["h1", "h2"], timeout=120)
        took = time.monotonic() - began
    assert [r.state for r in run.runs] == ["ok", "ok"]
    for r in run.runs:
        batches = [b for b in listener.batches if b[1] == r.host]
        # at most ten batches a second per action (plus the host's last), each with the latest lines only
        assert len(batches) <= took / FLUSH_EVERY + 2, (len(batches), took)
        assert all(n <= 50 for _, _, n, _ in batches)
        assert sum(n + s for _, _, n, s in batches) == 100000 == r.lines
        assert listener.last[r.host] == "100000"
        spool = Path(r.spool)
        assert spool.parent == tmp_path / "cockpit.state" / "spool" and spool.name == f"action-{run.id}-{r.host}.log"
        text = spool.read_text()
        assert text.startswith("1\n2\n") and text.endswith("\n99999\n100000\n")
        marker = next(line for line in text.splitlines() if line.startswith("[cockpit] "))
        m = DROPPED.match(marker)
        assert m is not None and int(m.group(1)) == r.dropped > 50000
        assert len(text.encode()) < 200_000 + 20_000  # the cap, the marker and the last 1000 lines
        assert r.output.endswith("100000\n")  # what the journal keeps is unchanged: the tail


async def test_headless_listeners_still_get_every_line(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, "", hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        listener = Listener(tail=0)
        engine.actions.listeners.append(listener)
        run = await engine.actions.run("count", "seq 1 20000", ["h1"], timeout=60)
    assert run.runs[0].state == "ok"
    assert sum(n for _, _, n, _ in listener.batches) == 20000
    assert all(s == 0 for *_, s in listener.batches)
