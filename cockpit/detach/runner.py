"""Detached jobs in the engine: the runner behind ``ActionRunner.detached``, and reattaching after a restart.

:func:`action_runner` starts, journals and follows a step's job, killing it when
the operator cancels (not when the cockpit shuts down: :data:`KEEP_RUNNING`);
:func:`resume` picks a journaled job up again in a new cockpit process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from cockpit.detach.control import cleanup, follow, kill, poll, start
from cockpit.detach.job import DetachedJob, Progress, job_offset, new_job_id
from cockpit.errors import CockpitError, DetachError, TransportError
from cockpit.transports import CommandResult

#: ``task.cancel(KEEP_RUNNING)``: the cockpit is shutting down, leave the job running (journaled, reattachable).
#: Any other cancel is the operator's: the job is killed.
KEEP_RUNNING = "cockpit-shutdown: keep detached jobs running"
OFFSET_EVERY = 2.0  # seconds between journal updates of a job's output offset
RESUME_TAIL = 256 * 1024  # bytes of a reattached job's output read back for the record (the tail)

_background: set[asyncio.Task[Any]] = set()


def _later(coro: Any) -> None:
    """Run after the caller's synchronous continuation (ActionRunner journals the outcome first)."""
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _quiet(coro: Any) -> None:
    try:
        await coro
    except (CockpitError, OSError):
        pass  # files left behind are harmless; the next cleanup or the operator removes them


def _journal_call(journal: Any, method: str, *args: Any) -> str:
    """A journal write that must not stop the job being followed; returns the error message, or ""."""
    fn = getattr(journal, method, None)
    if fn is None:
        return ""
    try:
        fn(*args)
    except CockpitError as exc:
        return exc.message
    return ""


def action_runner(engine: Any, *, poll_interval: float = 0.5, grace: float = 2.0) -> Callable[..., Any]:
    """The coroutine for ``ActionRunner.detached``: ``run(action_id, host, command, timeout, on_output, sudo, env)``.

    Starts the command detached (``sudo``: as ``sudo -n``, no password can be fed to a detached job),
    journals the job on the host row (``engine.actions.journal.action_host_job``) and its output offset
    every :data:`OFFSET_EVERY` s, follows it and returns a :class:`CommandResult`: the exit status; on
    ``timeout`` the job is killed (``timed_out``); killed or vanished: ``exit_status None`` with the reason
    on stderr. Cancelled: the job is killed, unless cancelled with :data:`KEEP_RUNNING`. The job's files
    are removed right after the runner has journaled the outcome.
    """
    from cockpit.sudo import prepare  # sudo imports nothing from here; kept local to stay import-light

    async def run(action_id: int, host: str, command: str, timeout: float | None,
                  on_output: Callable[[str, str], None] | None, sudo: bool = False,
                  env: Mapping[str, str] | None = None) -> CommandResult:
        began = time.monotonic()
        journal = getattr(getattr(engine, "actions", None), "journal", None)
        prepared = prepare(command, sudo=sudo, password=None, env=env)
        starting = asyncio.ensure_future(start(engine, host, prepared.command, new_job_id(action_id, host),
                                               stdin=prepared.stdin))
        cancelled: asyncio.CancelledError | None = None
        try:
            job = await asyncio.shield(starting)
        except asyncio.CancelledError as exc:  # the job may be starting: let it, then kill it (or keep it)
            cancelled = exc
            job = await starting
        _journal_call(journal, "action_host_job", action_id, host, job.to_json())
        if cancelled is not None:
            await _cancelled(engine, job, cancelled, grace)
        last: list[Progress] = []
        saved = [time.monotonic(), 0]

        def progress(p: Progress) -> None:
            last[:] = [p]
            if p.offset != saved[1] and (time.monotonic() - saved[0] >= OFFSET_EVERY or p.ended):
                saved[:] = [time.monotonic(), p.offset]
                _journal_call(journal, "action_host_job_offset", action_id, host, p.offset)

        emit = (lambda text: on_output("stdout", text)) if on_output is not None else None
        try:
            rc = await follow(engine, job, emit, timeout=timeout, poll_interval=poll_interval, on_progress=progress)
        except asyncio.CancelledError as exc:
            await _cancelled(engine, job, exc, grace)
        p = last[0] if last else None
        if rc is None and (p is None or p.alive):  # the deadline passed with the job still running
            await _quiet(kill(engine, job, grace))
            _later(_quiet(cleanup(engine, job)))
            return CommandResult(None, "", "", time.monotonic() - began, timed_out=True)
        _later(_quiet(cleanup(engine, job)))
        why = "" if rc is not None else (
            f"{host}: the detached job was killed" if p is not None and p.killed else
            f"{host}: the detached job vanished without an exit status (killed -9, OOM or a reboot): outcome unknown")
        return CommandResult(rc, "", why, time.monotonic() - began)

    return run


async def _cancelled(engine: Any, job: DetachedJob, exc: asyncio.CancelledError, grace: float) -> NoReturn:
    """The operator cancelled: kill the job (shielded, so the kill is sent), then re-raise. Shutdown: keep it."""
    if KEEP_RUNNING not in exc.args:
        await asyncio.shield(_quiet(kill(engine, job, grace)))
        _later(_quiet(cleanup(engine, job)))
    raise exc


async def resume(engine: Any, journal: Any, row: dict[str, Any], *, on_output: Callable[[str], None] | None = None,
                 timeout: float | None = None, poll_interval: float = 0.5) -> Progress | None:
    """Reattach to one row of ``journal.detached_running()`` and journal its outcome; returns the last poll.

    Reads back the tail of the output (for the record), follows the job to its end, then records the host
    (``ok``/``failed`` with the exit status, ``cancelled`` when killed, ``interrupted`` when the outcome is
    unknown), ends the action when no host is left open, and removes the job's files. Returns None (and
    records nothing) when the deadline passes first: the job runs on, still journaled.
    """
    job = DetachedJob.from_dict(row["job"])
    action_id, host = int(row["action_id"]), str(row["host"])
    first: Progress | None = None
    try:
        first = await poll(engine, job, job_offset(row["job"]), limit=4)
        start_at = 0 if first.size <= RESUME_TAIL else first.size - RESUME_TAIL
    except DetachError:  # the files are gone: nothing to follow
        start_at = -1
    except TransportError:  # follow() rides this out; read everything back
        start_at = 0
    parts: list[str] = []
    last: list[Progress] = []

    def collect(text: str) -> None:
        parts.append(text)
        if on_output is not None:
            on_output(text)

    if start_at >= 0:
        rc = await follow(engine, job, collect, timeout=timeout, poll_interval=poll_interval, offset=start_at,
                          on_progress=lambda p: last.__setitem__(slice(None), [p]))
        p = last[0] if last else first
        if p is None or (rc is None and p.alive):
            return None
    else:
        rc, p = None, None
    output = "".join(parts).lstrip("\ufffd")
    now = time.time()
    if rc is not None:
        state, error = ("ok" if rc == 0 else "failed"), ""
    elif p is not None and p.killed:
        state, error = "cancelled", "the detached job was killed"
    else:
        state, error = "interrupted", "the detached job vanished without an exit status: outcome unknown"
    journal.action_host_done(action_id, host, state, rc, None, now, output, start_at > 0, error)
    if all(a["id"] != action_id for a in journal.interrupted()):  # no host of it is open any more
        journal.action_ended(action_id, now)
    if start_at >= 0:
        await _quiet(cleanup(engine, job))
    return p
