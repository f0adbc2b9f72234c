"""A driving cockpit in a process of its own, for the fencing tests (issue 13, item 1).

``python tests/lease_driver.py CONFIG OPERATOR``: opens a real :class:`cockpit.session.Session` (journal,
lease, heartbeat, runbook) and obeys lines on stdin, one answer line each on stdout:
``action`` fires a marker command on every host, ``step REF`` runs a runbook step, ``quit`` closes.
The test freezes and resumes this process with real signals (SIGSTOP/SIGCONT).
"""

from __future__ import annotations

import asyncio
import sys

from cockpit.config import load_config
from cockpit.errors import CockpitError
from cockpit.session import Session

MARK = 'echo fired >> "$COCKPIT_SHIM_STATE/systemd/marker-action"'


def say(line: str) -> None:
    print(line, flush=True)


async def main(path: str, operator: str) -> None:
    s = Session(load_config(path), operator)
    s.on_demoted.append(lambda why: say(f"DEMOTED {why}"))
    await s.start(poll=False)
    say("OBSERVER" if s.observer else "DRIVER")
    hosts = [h.name for h in s.config.hosts]
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            try:
                if line[0] == "action":
                    run = await s.engine.actions.run("mark", MARK, hosts, timeout=10.0, operator=operator)
                    say("ACTION " + " ".join(f"{r.host}={r.state}" for r in run.runs))
                elif line[0] == "step":
                    view = await s.runbook.run_step(line[1])
                    say(f"STEP {view.state}")
            except CockpitError as exc:
                say(f"REFUSED {exc.message}")
    finally:
        await s.close()
        say("CLOSED")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
