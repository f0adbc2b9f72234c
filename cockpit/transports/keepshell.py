"""A shell kept open on a host for the rounds: one session channel, one ``sh -s``, a script per round.

Why: most of a warm round's cost is the host's, and a fresh session costs sshd a fork,
the login shell and ``sh`` itself on every round, for every host (docs/performance.md,
B2). The kept shell reads each round's script from stdin and answers until the round's
end marker on both streams. Every section of the script runs with stdin from
/dev/null, and a user's command in a subshell of its own, so nothing a check does can
eat the next round's script or end the shell.

A round that misses its deadline, or is cancelled, ends the shell: the channel is closed
and its process group signalled (TERM, then KILL), and the next round opens a new one.
If the cockpit dies, sshd closes the channel, the shell reads EOF and exits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cockpit.transports.base import PgidStripper, TailBuffer

Reader = Callable[[int], Awaitable[str]]
CHUNK = 65536


class KeptShell:
    """One open ``sh -s`` on a host; ``pgid`` is its process group once the wrapper has reported it."""

    def __init__(self, process: object) -> None:
        self.process = process  # asyncssh.SSHClientProcess[str]
        self.stripper = PgidStripper()
        self.rounds = 0

    @property
    def pgid(self) -> int | None:
        return self.stripper.pgid


async def read_until(read: Reader, buf: TailBuffer, end: str, stripper: PgidStripper | None = None) -> bool:
    """Copy a stream into ``buf`` until a line equal to ``end`` ends the data; False on EOF first.

    The end line is the last thing the round's script prints, so it ends a chunk;
    only a short tail is kept to find it, whatever the size of the round's output.
    """
    want = "\n" + end + "\n"
    tail = "\n"
    while True:
        chunk = await read(CHUNK)
        if not chunk:
            if stripper is not None and (rest := stripper.flush()):
                buf.write(rest)
            return False
        if stripper is not None:
            chunk = stripper.feed(chunk)
            if not chunk:
                continue
        buf.write(chunk)
        tail = (tail + chunk)[-len(want):]
        if tail == want:
            return True
