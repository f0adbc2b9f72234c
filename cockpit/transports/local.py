"""The cockpit's own machine, no SSH: subprocesses in their own session."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from cockpit.spec import HostSpec
from cockpit.transports.base import DEFAULT_MAX_OUTPUT, KILL_GRACE, CommandResult, OutputCallback, TailBuffer
from cockpit.transports.stream import pump


class LocalTransport:
    """Runs commands with ``sh -c`` (or ``sh -s`` for scripts) as the cockpit's user."""

    def __init__(self, spec: HostSpec) -> None:
        self.name = spec.name
        self.spec = spec

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

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
        if command is None:
            argv = ["sh", "-s"]
        elif login_shell:
            argv = [os.environ.get("SHELL", "/bin/sh"), "-l", "-c", command]
        else:
            argv = ["sh", "-c", command]
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so cancel reaches children
        )
        out, err = TailBuffer(max_output), TailBuffer(max_output)
        assert proc.stdout is not None and proc.stderr is not None
        stdout, stderr = proc.stdout, proc.stderr

        async def read_out(n: int) -> str:
            return (await stdout.read(n)).decode("utf-8", "replace")

        async def read_err(n: int) -> str:
            return (await stderr.read(n)).decode("utf-8", "replace")

        async def feed() -> None:
            if stdin is not None and proc.stdin is not None:
                try:
                    proc.stdin.write(stdin.encode())
                    await proc.stdin.drain()
                    proc.stdin.close()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        async def body() -> int:
            await asyncio.gather(
                feed(), pump(read_out, out, "stdout", on_output), pump(read_err, err, "stderr", on_output)
            )
            return await proc.wait()

        timed_out = cancelled = False
        status: int | None = None
        try:
            async with asyncio.timeout(timeout):
                status = await body()
        except TimeoutError:
            timed_out = True
            await _kill_group(proc)
        except asyncio.CancelledError:
            cancelled = True
            await _kill_group(proc)
            raise
        finally:
            if status is None and not timed_out and not cancelled:
                await _kill_group(proc)
        killed_by = signal.Signals(-status).name.removeprefix("SIG") if status is not None and status < 0 else ""
        return CommandResult(
            signal=killed_by,
            exit_status=status if status is None or status >= 0 else None,
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            duration=time.monotonic() - started,
            truncated=out.truncated or err.truncated,
            timed_out=timed_out,
        )


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """TERM the whole group, KILL it after the grace period."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 1.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), wait)
            if sig == signal.SIGTERM:
                # the leader is gone; stragglers in the group still get KILL
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            return
        except TimeoutError:
            continue
