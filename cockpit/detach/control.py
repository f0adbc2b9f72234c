"""Controlling a detached job from the cockpit: start, poll, follow, kill, cleanup.

Each of :func:`start`, :func:`poll`, :func:`kill` and :func:`cleanup` is one
short SSH command (the scripts of :mod:`cockpit.detach.job`), through an
:class:`cockpit.engine.scheduler.Engine` with a host name, or a transport.
:func:`follow` polls until the outcome is known, riding out dropped connections.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Callable
from typing import Any

from cockpit.detach.job import (
    JOB_DIR,
    POLL_BYTES,
    DetachedJob,
    Progress,
    cleanup_script,
    kill_script,
    poll_script,
    start_script,
)
from cockpit.errors import AuthFailed, DetachError, DetachTimeout, HostKeyError, TransportError
from cockpit.transports import CommandResult

COMMAND_TIMEOUT = 20.0  # seconds for one control command (start, poll, kill, cleanup)
RETRY_MIN = 0.5
RETRY_MAX = 5.0  # follow() tries a lost host at least this often

_HEADER = re.compile(r"CKJOB (\d) (\d) (-|-?\d+) (\d+) (\d+) (\d+)")


# -- running the short control commands --------------------------------------------------------


async def _run(target: Any, host: str, script: str, timeout: float, *, on_stdin: bool = False) -> CommandResult:
    """Run a control script through an Engine (``run_command``) or a Transport (``run``).

    Always under ``sh``: a host with ``login_shell`` runs commands in the user's own shell (zsh splits words
    differently), whose profile still sets the environment the job inherits. ``on_stdin``: the script
    goes to ``sh -s`` on stdin, so what it holds (the job's command and environment) is in no argv.
    """
    stdin = script if on_stdin else None
    script = "exec sh -s" if on_stdin else f"exec sh -c {shlex.quote(script)}"
    if hasattr(target, "run_command"):
        return await target.run_command(host, script, timeout=timeout, max_output=4 * POLL_BYTES, stdin=stdin)
    return await target.run(script, timeout=timeout, max_output=4 * POLL_BYTES, stdin=stdin)


def _checked(host: str, what: str, res: CommandResult, timeout: float) -> CommandResult:
    if res.timed_out:
        raise DetachTimeout(host, "timeout", f"{host}: {what} got no answer within {timeout:g}s",
                            "the host may be hung; the job itself is not affected")
    if res.exit_status != 0:
        detail = (res.stderr.strip() or res.stdout.strip() or f"exit status {res.exit_status}")[-500:]
        raise DetachError(f"{host}: {what} failed: {detail}")
    return res


# -- the API -----------------------------------------------------------------------------------


async def start(engine: Any, host: str, command: str, job_id: str, *, base: str = JOB_DIR,
                timeout: float = COMMAND_TIMEOUT, stdin: str | None = None) -> DetachedJob:
    """Start ``command`` detached on ``host``; returns as soon as it runs in its own process group.

    ``stdin`` (the env's export lines) is kept in a 0600 file that the job opens and deletes as it
    starts; the command and its input reach the host on stdin and live in files, never in an argv.

    Raises :class:`TransportError` when the host cannot be reached (nothing started)
    and :class:`DetachError` when the host refused (job id in use, no writable home).
    A :class:`DetachTimeout` leaves it open whether the job started: poll the job id.
    """
    res = _checked(host, "starting a detached job",
                   await _run(engine, host, start_script(command, job_id, base, stdin), timeout, on_stdin=True),
                   timeout)
    for line in res.stdout.splitlines():
        if line.startswith("CKSTART "):
            _, pgid, directory = line.split(" ", 2)
            return DetachedJob(host=host, job_id=job_id, dir=directory, pgid=int(pgid))
    raise DetachError(f"{host}: starting a detached job printed no process group: {res.stdout[-300:]!r}")


async def poll(engine: Any, job: DetachedJob, offset: int = 0, *, limit: int = POLL_BYTES,
               timeout: float = COMMAND_TIMEOUT) -> Progress:
    """One look at the job: alive?, its rc once ended, and at most ``limit`` bytes of output from ``offset``."""
    res = _checked(job.host, "polling a detached job", await _run(engine, job.host, poll_script(job, offset, limit),
                                                                    timeout), timeout)
    header, _, output = res.stdout.partition("\n")
    m = _HEADER.fullmatch(header.strip())
    if m is None:
        raise DetachError(f"{job.host}: unexpected answer polling job {job.job_id}: {res.stdout[:300]!r}")
    alive, killed, rc, size, new_offset, _count = m.groups()
    return Progress(rc=None if rc == "-" else int(rc), output=output, offset=int(new_offset), alive=alive == "1",
                    killed=killed == "1", size=int(size))


async def follow(engine: Any, job: DetachedJob, on_output: Callable[[str], None] | None = None, *,
                 timeout: float | None, poll_interval: float = 0.5, offset: int = 0,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> int | None:
    """Poll until the job has ended and its output is drained, or ``timeout`` seconds have passed.

    Returns the exit status, or None: killed, outcome unknown, or still running at the
    deadline (``on_progress`` gets every successful poll, so the last one tells which;
    persist its ``offset`` to resume without repeating output). The job is never killed
    here. A lost connection or a hung host (TransportError) is retried until the deadline
    with its own backoff (0.5 s doubling to 5 s), resetting the transport's backoff so
    the reconnect is not delayed further; authentication and host-key failures are not
    reset (they wait for the operator's retry). Output arrives once, in order, via
    ``on_output``.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    delay = RETRY_MIN
    while True:
        left = None if deadline is None else deadline - loop.time()
        if left is not None and left <= 0:
            return None
        try:
            p = await poll(engine, job, offset, timeout=COMMAND_TIMEOUT if left is None else
                           max(1.0, min(COMMAND_TIMEOUT, left)))
        except TransportError as exc:
            if on_error is not None:
                on_error(exc)
            if not isinstance(exc, (AuthFailed, HostKeyError)):
                _reset_backoff(engine, job.host)
            await _sleep_until(loop, delay, deadline)
            delay = min(RETRY_MAX, delay * 2)
            continue
        delay = RETRY_MIN
        if p.output and on_output is not None:
            on_output(p.output)
        offset = p.offset
        if on_progress is not None:
            on_progress(p)
        if p.ended:
            if p.drained or not p.output:
                return p.rc
            continue  # more output to fetch before the end: no pause
        if p.output and not p.drained:
            continue  # a backlog (e.g. after a reattach): fetch the rest now
        await _sleep_until(loop, poll_interval, deadline)


async def _sleep_until(loop: asyncio.AbstractEventLoop, delay: float, deadline: float | None) -> None:
    if deadline is not None:
        delay = min(delay, max(0.0, deadline - loop.time()))
    await asyncio.sleep(delay)


def _reset_backoff(engine: Any, host: str) -> None:
    """Let the next poll reconnect at once (follow() paces itself). Not ``Engine.retry``: that also probes."""
    transport = engine.transport(host) if hasattr(engine, "transport") else engine
    reset = getattr(transport, "reset", None)
    if callable(reset):
        reset()


async def kill(engine: Any, job: DetachedJob, grace: float = 2.0, *, timeout: float | None = None) -> bool:
    """TERM the job's process group, KILL it after ``grace`` seconds; True when nothing of it is left.

    Works from any cockpit process (only the group id is needed). A job that had already
    ended is left alone. Afterwards :func:`poll` reports ``outcome == "killed"``.
    """
    t = timeout if timeout is not None else COMMAND_TIMEOUT + grace
    res = _checked(job.host, "killing a detached job", await _run(engine, job.host, kill_script(job, grace), t), t)
    return "CKKILL 0" in res.stdout


async def cleanup(engine: Any, job: DetachedJob, *, timeout: float = COMMAND_TIMEOUT) -> bool:
    """Remove the job's files on the host (after its outcome is journaled). False while it still runs."""
    res = _checked(job.host, "cleaning up a detached job", await _run(engine, job.host, cleanup_script(job), timeout),
                   timeout)
    return "CKCLEAN removed" in res.stdout
