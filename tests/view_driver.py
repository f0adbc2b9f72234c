"""A driving cockpit in a process of its own that polls the fleet and publishes its view (issue 29, item 1).

``python tests/view_driver.py CONFIG OPERATOR``: a real :class:`cockpit.session.Session` with polling (so it
publishes its merged view to the journal every round); obeys lines on stdin, one answer line each:
``action`` fires a marker command on every host, ``quit`` closes. Tests freeze it with SIGSTOP. It says
``DRIVER`` once every host answered its first round, so it has logged in everywhere by then (tests count the
logins that follow).
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from cockpit.config import load_config
from cockpit.session import Session

MARK = 'echo marked-$COCKPIT_TEST_HOST'
ROOT = Path(__file__).resolve().parents[1]


def accepted(fleet: Any) -> int:
    """SSH logins every test sshd accepted so far (its log says so for each)."""
    return sum(h.log_text().count("Accepted publickey") for h in fleet)


class Driver:
    """This script as a child process, stopped by its pid (SIGCONT first: a test may have frozen it)."""

    def __init__(self, config: Path, operator: str = "alice") -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
        self.proc = subprocess.Popen([sys.executable, __file__, str(config), operator],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def line(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"the driver said nothing in {timeout}s")
        return self.proc.stdout.readline().strip()

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def say(line: str) -> None:
    print(line, flush=True)


async def main(path: str, operator: str) -> None:
    s = Session(load_config(path), operator)
    sub = s.engine.subscribe()
    await s.start()
    deadline = loop_time() + 30  # say who we are once every host answered a round: logged in everywhere
    while loop_time() < deadline:
        snap = await asyncio.wait_for(sub.next(), timeout=30)
        if all(h.round_ended > 0 for h in snap.hosts):
            break
    say("OBSERVER" if s.observer else "DRIVER")
    hosts = [h.name for h in s.config.hosts]
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "action":
                run = await s.engine.actions.run("mark", MARK, hosts, timeout=10.0, operator=operator)
                say("ACTION " + " ".join(f"{r.host}={r.state}" for r in run.runs))
    finally:
        await s.close()
        say("CLOSED")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
