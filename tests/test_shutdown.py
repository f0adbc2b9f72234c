"""cockpit.shutdown: a signal stops the command wherever the Python code happens to be running (issue 13, 8).

The demo's SIGTERM race: its handler raised an exception from a Python-level signal handler, which surfaces
in whatever frame runs at that instant. When that is a background task (a poller), the task dies with it
("Task exception was never retrieved") and the command plays on to exit 0. The stop now goes through the
event loop; these tests put the signal exactly in such a task, in a real process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import asyncio, os, signal, sys, threading, time
    from cockpit.shutdown import run_until_signal

    async def main(stop):
        async def poller():  # a background task running Python code when the signal lands
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                pass
            print("poller done", flush=True)
        asyncio.create_task(poller())
        threading.Timer(0.3, os.kill, (os.getpid(), int(sys.argv[1]))).start()
        await asyncio.sleep(1.5)
        print("played to the end", flush=True)
        return 0

    raise SystemExit(run_until_signal(main))
""")


@pytest.mark.parametrize("sig", [15, 1, 2])
def test_a_signal_landing_in_a_background_task_still_stops(sig: int) -> None:
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(sig)], capture_output=True, text=True, check=False, timeout=30,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 128 + sig, res.stdout + res.stderr
    assert "poller done" in res.stdout  # the signal did land while the poller ran
    assert "played to the end" not in res.stdout
    assert "Traceback" not in res.stderr and "never retrieved" not in res.stderr, res.stderr
