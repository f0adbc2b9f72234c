"""A journal holder in a process of its own, for the PostgreSQL lease tests (issue 28).

``python tests/pg_driver.py URL OPERATOR``: opens a :class:`cockpit.journal.PgJournal` and obeys lines on
stdin, one answer line each: ``acquire`` (ACQUIRED/HELD <holder>), ``beat`` (BEAT <heartbeat>),
``intent`` (INTENT <id> or REFUSED <why>), ``clock`` (CLOCK <client time> <journal time>), ``quit``.
The tests freeze it with SIGSTOP or run it under faketime.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from cockpit.errors import CockpitError
from cockpit.journal import PgJournal


def main(url: str, operator: str) -> None:
    j = PgJournal(url, operator).open()
    try:
        for line in sys.stdin:
            cmd = line.strip()
            try:
                if cmd == "acquire":
                    lease = j.acquire_lease(operator, socket.gethostname(), os.getpid(), time.time())
                    print(f"ACQUIRED {lease.heartbeat}" if lease.ours else f"HELD {lease.operator}", flush=True)
                elif cmd == "beat":
                    print(f"BEAT {j.heartbeat(time.time()).heartbeat}", flush=True)
                elif cmd == "intent":
                    print(f"INTENT {j.action_intent('mark', 'action', 'true', [('h1', 'true')])}", flush=True)
                elif cmd == "clock":
                    print(f"CLOCK {time.time()} {j.now()}", flush=True)
                elif cmd == "quit":
                    break
            except CockpitError as exc:
                print(f"REFUSED {exc.message}", flush=True)
    finally:
        j.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
