"""What every transport offers, and how a command is wrapped so it can be stopped.

A command runs without a PTY, stdin from /dev/null (or a script on stdin), through
``sh -c`` in a session of its own (sshd's, or ``setsid``'s), so cancelling can signal
its whole process group and session: TERM, then KILL after a grace period. The wrapper prints the group id on
stderr behind a marker, which the reader strips before anyone sees stderr.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

#: called with ("stdout" | "stderr", text) as output arrives, for live streaming
OutputCallback = Callable[[str, str], None]

PGID_MARKER = "\x1eCKPGID "
KILL_GRACE = 2.0
DEFAULT_MAX_OUTPUT = 1 << 20  # bytes kept per stream; the tail is kept


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one command. Output is decoded, unsanitised, tail-bounded."""

    exit_status: int | None  # None when killed or timed out
    stdout: str
    stderr: str
    duration: float
    truncated: bool = False  # output exceeded the bound; the head was dropped
    timed_out: bool = False
    cancelled: bool = False
    signal: str = ""  # the signal that killed the command ("TERM"), when the transport knows it

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class TailBuffer:
    """Keeps the last ``limit`` characters of a stream with O(limit) memory."""

    def __init__(self, limit: int = DEFAULT_MAX_OUTPUT) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self.dropped = 0

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size > 2 * self.limit:
            self._compact()

    def _compact(self) -> None:
        joined = "".join(self._parts)
        cut = max(0, len(joined) - self.limit)
        self.dropped += cut
        self._parts = [joined[cut:]]
        self._size = len(self._parts[0])

    def getvalue(self) -> str:
        self._compact()
        return self._parts[0] if self._parts else ""

    @property
    def truncated(self) -> bool:
        return self.dropped > 0 or self._size > self.limit


class PgidStripper:
    """Removes the wrapper's process-group marker line from the start of stderr."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self._pending = ""
        self._done = False

    def feed(self, text: str) -> str:
        if self._done:
            return text
        self._pending += text
        idx = self._pending.find(PGID_MARKER)
        if idx < 0:
            if len(self._pending) > 65536:  # no marker (e.g. no setsid): give up looking
                self._done = True
                out, self._pending = self._pending, ""
                return out
            return ""
        end = self._pending.find("\n", idx)
        if end < 0:
            return ""
        try:
            self.pgid = int(self._pending[idx + len(PGID_MARKER) : end])
        except ValueError:
            self.pgid = None
        out = self._pending[:idx] + self._pending[end + 1 :]
        self._pending = ""
        self._done = True
        return out

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        self._done = True
        return out


def wrap_remote(command: str | None, *, login_shell: bool = False, keep_stdin: bool = False) -> str:
    """The command line sent over SSH.

    The command runs in a process group of its own, whose id is reported first on
    stderr, so a cancel or a timeout can signal everything it started. OpenSSH already
    makes the session's shell a group leader: when /proc shows that, the command is
    exec'd straight away (no ``setsid``, no second shell; a warm round's cost is the
    host's process count). Otherwise ``setsid -w`` makes the group; without setsid
    (macOS) only the shell can be signalled.

    ``command=None`` means a script arrives on stdin (``sh -s``): the script never
    appears on a command line, so ``pgrep -f`` cannot match it. The remote login
    shell must be POSIX (sh, bash, dash, zsh, ksh).
    """
    stdin = "" if keep_stdin else " </dev/null"  # keep_stdin: the caller feeds stdin (sudo -S)
    arg = shlex.quote(command) if command is not None else ""
    if command is None:
        inner, direct = "exec sh -s", "exec sh -s"
    elif login_shell:
        inner = f'exec "${{SHELL:-/bin/sh}}" -l -c "$1"{stdin}'
        direct = f'exec "${{SHELL:-/bin/sh}}" -l -c {arg}{stdin}'
    else:
        inner, direct = f'exec sh -c "$1"{stdin}', f"exec sh -c {arg}{stdin}"
    report = 'printf "\\036CKPGID %s\\n" "$$" >&2'
    body = f"{shlex.quote(report + '; ' + inner)} cockpit {arg}".rstrip()
    leader = '[ -r /proc/$$/stat ] && read -r _g </proc/$$/stat && set -f && set -- $_g && [ "${5-}" = "$$" ]'
    return (
        f"if {leader}; then {report}; {direct}; "
        f"elif command -v setsid >/dev/null 2>&1; then exec setsid -w sh -c {body}; "
        f"else exec sh -c {body}; fi"
    )


def kill_group_script(pgid: int, grace: float = KILL_GRACE) -> str:
    """TERM the group and its session, wait up to ``grace`` seconds, then KILL what is left.

    The group leader is a session leader (sshd or setsid made it one), so the session id
    is the same number: ``pkill -s`` also reaches what moved to a group of its own inside
    it, such as coreutils ``timeout`` and its child.
    """
    steps = max(1, int(grace * 10))
    return (
        f"kill -TERM -{pgid} 2>/dev/null; pkill -TERM -s {pgid} 2>/dev/null; i=0; "
        f"while {{ kill -0 -{pgid} 2>/dev/null || pgrep -s {pgid} >/dev/null 2>&1; }} && [ $i -lt {steps} ]; "
        "do sleep 0.1; i=$((i+1)); done; "
        f"kill -KILL -{pgid} 2>/dev/null; pkill -KILL -s {pgid} 2>/dev/null; true"
    )


class Transport(Protocol):
    """How the engine reaches one host; ``ssh`` and ``local`` implement it."""

    name: str

    async def connect(self) -> None:
        """Make the host ready for commands, or raise a TransportError."""

    async def run(
        self,
        command: str | None,
        *,
        stdin: str | None = None,
        timeout: float | None,
        on_output: OutputCallback | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        login_shell: bool = False,
    ) -> CommandResult:
        """Run a command (or, with ``command=None``, the script in ``stdin``)."""

    async def close(self) -> None:
        """Release the connection."""
