"""Quiet on the wire (issue 22, item 7): what a steady fleet costs a slow link, counted in bytes.

The real App in a real terminal (tmux, 120×40, TERM=tmux-256color) on 40 steady hosts fed one round every
2 s (tests/quiet_driver.py: every host's state new, every value the same). After the screen has settled,
``tmux pipe-pane`` copies everything the cockpit writes to the pane for 20 s; the test counts it. The goal
is at most 1 KB/s; and since nothing the rows show changes, no host row may be redrawn at all, and the
header's age may be drawn at most about once a second (it was twice a second before).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from pathlib import Path

import pytest
from test_tmux import Tmux

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 20  # seconds of steady state copied from the pane
GOAL = 1024  # bytes a second
HOSTS, INTERVAL = 40, 2.0

pytestmark = [pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed: apt-get install -y tmux"),
              pytest.mark.xdist_group("serial")]  # a byte count over a fixed window: alone on its core


def test_a_steady_fleet_writes_under_a_kilobyte_a_second(tmp_path: Path) -> None:
    tmux = Tmux(f"cockpit-quiet-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    out = tmp_path / "pane.bytes"
    try:
        tmux.start(f"cd {ROOT} && PYTHONPATH={ROOT} TERM=tmux-256color {sys.executable} tests/quiet_driver.py "
                   f"{tmp_path} {HOSTS} {INTERVAL}", width=120, height=40)
        tmux.wait(lambda: "h001" in tmux.screen() and "5/5" in tmux.screen(), 60, "the steady fleet on screen")
        time.sleep(2 * INTERVAL)  # two more rounds: the first ones fill the rows
        tmux("pipe-pane", "-o", "-t", tmux.name, f"cat > {out}")
        time.sleep(WINDOW)
        tmux("pipe-pane", "-t", tmux.name)  # stops the copy
        assert tmux.alive(), tmux.screen()
        data = out.read_bytes()
    finally:
        tmux.close()
    assert data, "nothing at all was written: the age in the header must still tick"
    per_second = len(data) / WINDOW
    assert per_second <= GOAL, f"{per_second:.0f} bytes/s to the pane on a steady fleet (goal {GOAL})"
    text = data.decode("utf-8", "replace")
    assert " h0" not in text, "a host row was redrawn though nothing it shows changed"  # rows read "  h001 …"
    assert text.count("s ago") <= WINDOW + WINDOW / INTERVAL + 2, "the header's age is drawn more than once a second"
