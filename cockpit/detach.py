"""Detached steps: a long command that runs on the host without the SSH connection.

An ordinary command lives as long as its SSH channel. A detached job is started by
one short SSH command and then lives on its own on the host, so a dropped
connection, a restarted sshd or a restarted cockpit do not stop it. Everything the
cockpit needs to find it again is in files on the host and in :class:`DetachedJob`
(which the journal keeps)::

    ~/.cache/cutover-cockpit/            mode 700
        JOB.out    stdout and stderr of the command, appended as it runs
        JOB.pgid   the job's process-group id (written by the job itself)
        JOB.rc     the exit status, written atomically (tmp + mv) when the command ends
        JOB.killed written by :func:`kill` before it signals: "killed", not "unknown"

The job runs ``sh -c COMMAND`` under a small runner shell in a session of its own
(``setsid(1)``; where that is missing, perl's ``POSIX::setsid``; as a last resort
``nohup``, which leaves it in the process group of the short SSH session that
started it), stdin from /dev/null. The short SSH command returns as
soon as the runner has written its group id; the runner is then re-parented to
init (or a subreaper), outside sshd's process tree.

Each of :func:`start`, :func:`poll`, :func:`kill` and :func:`cleanup` is one
short SSH command (POSIX sh, ``ps``/``od``/``tail``/``head`` on the host). They
take an :class:`cockpit.scheduler.Engine` with a host name, or a transport.
:func:`follow` polls until the outcome is known, riding out dropped connections.

What cannot be known: a job whose group is gone without a ``.rc`` file (killed
with SIGKILL by someone else, OOM-killed, host rebooted) has an unknown outcome
(``rc None``, ``alive False``). Group ids are checked with ``kill -0`` and ``ps``:
after a host has run long enough to reuse the id for another process group of the
same user, a vanished job could look alive; the ``.rc`` file decides whenever it
exists.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, NoReturn

from cockpit.errors import AuthFailed, CockpitError, HostKeyError, TransportError
from cockpit.transports.base import CommandResult

JOB_DIR = "~/.cache/cutover-cockpit"
POLL_BYTES = 64 * 1024  # output bytes fetched per poll at most
COMMAND_TIMEOUT = 20.0  # seconds for one control command (start, poll, kill, cleanup)
START_WAIT = 5.0  # seconds start() waits for the job to report its process group
RETRY_MIN = 0.5
RETRY_MAX = 5.0  # follow() tries a lost host at least this often

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HEADER = re.compile(r"CKJOB (\d) (\d) (-|-?\d+) (\d+) (\d+) (\d+)")

Outcome = Literal["running", "exited", "killed", "unknown"]


class DetachError(CockpitError):
    """A detached job could not be started or controlled (the host answered, but not as expected)."""


class DetachTimeout(TransportError):
    """A control command got no answer in time (a hung host); like a lost connection, worth retrying."""


@dataclass(frozen=True)
class DetachedJob:
    """Where a detached job runs: enough to poll, kill or clean it up from any cockpit process."""

    host: str
    job_id: str
    dir: str  # absolute directory on the host holding the job's files
    pgid: int

    @property
    def path(self) -> str:
        """The files' common prefix on the host (``JOB.out``, ``JOB.rc``, ...)."""
        return f"{self.dir}/{self.job_id}"

    def to_dict(self, offset: int = 0) -> dict[str, Any]:
        """The journal's form: host, job_id, dir, pgid and the output offset already shown."""
        return {**asdict(self), "offset": int(offset)}

    def to_json(self, offset: int = 0) -> str:
        return json.dumps(self.to_dict(offset), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | str) -> DetachedJob:
        """From :meth:`to_dict` (or its JSON); ``offset`` is ignored here (see :func:`job_offset`)."""
        if isinstance(d, str):
            d = json.loads(d)
        assert isinstance(d, dict)
        return cls(host=str(d["host"]), job_id=valid_job_id(str(d["job_id"])), dir=str(d["dir"]), pgid=int(d["pgid"]))


def job_offset(d: dict[str, Any] | str | None) -> int:
    """The output offset stored with a job in the journal (0 when absent)."""
    if d is None:
        return 0
    if isinstance(d, str):
        d = json.loads(d)
    return int(d.get("offset", 0) or 0)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Progress:
    """One look at a job. ``offset`` is the byte offset after ``output`` (computed on the host)."""

    rc: int | None  # the exit status once the command has ended, else None
    output: str  # output since the offset asked for (at most POLL_BYTES bytes, whole UTF-8 characters)
    offset: int
    alive: bool  # some process of the job's group is still running (zombies do not count)
    killed: bool = False  # kill() was called on it (by any cockpit)
    size: int = 0  # bytes in JOB.out at the time of the poll

    @property
    def ended(self) -> bool:
        """Nothing more will happen: the exit status is known or the group is gone."""
        return self.rc is not None or not self.alive

    @property
    def drained(self) -> bool:
        """All output written so far has been read."""
        return self.offset >= self.size

    @property
    def outcome(self) -> Outcome:
        """running; exited (see ``rc``); killed (by :func:`kill`); unknown (gone without an rc)."""
        if self.rc is not None:
            return "exited"
        if self.alive:
            return "running"
        return "killed" if self.killed else "unknown"


def valid_job_id(job_id: str) -> str:
    """A job id is a file name: letters, digits, ``.``, ``_``, ``-``; not starting with a dot or dash."""
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"bad job id {job_id!r}: use letters, digits, '.', '_' and '-' (at most 128)")
    return job_id


def new_job_id(action_id: int | str, host: str) -> str:
    """``ck-<action id>-<host>-<random>``: unique, and safe as a file name on the host."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", host)[:60] or "host"
    return valid_job_id(f"ck-{action_id}-{safe}-{secrets.token_hex(4)}")


# -- running the short control commands --------------------------------------------------------


async def _run(target: Any, host: str, script: str, timeout: float) -> CommandResult:
    """Run a control script through an Engine (``run_command``) or a Transport (``run``).

    Always under ``sh``: a host with ``login_shell`` runs commands in the user's own shell (zsh splits words
    differently), whose profile still sets the environment the job inherits.
    """
    script = f"exec sh -c {shlex.quote(script)}"
    if hasattr(target, "run_command"):
        return await target.run_command(host, script, timeout=timeout, max_output=4 * POLL_BYTES)
    return await target.run(script, timeout=timeout, max_output=4 * POLL_BYTES)


def _checked(host: str, what: str, res: CommandResult, timeout: float) -> CommandResult:
    if res.timed_out:
        raise DetachTimeout(host, "timeout", f"{host}: {what} got no answer within {timeout:g}s",
                            "the host may be hung; the job itself is not affected")
    if res.exit_status != 0:
        detail = (res.stderr.strip() or res.stdout.strip() or f"exit status {res.exit_status}")[-500:]
        raise DetachError(f"{host}: {what} failed: {detail}")
    return res


#: ``alive``: exit 0 when a process of group $P is running. ``kill -0`` first (cheap); then ``ps``, because
#: a group of zombies still takes signals (an init that does not reap, as in many containers). No ``ps``:
#: trust ``kill -0``.
_ALIVE = (
    'alive() { kill -0 -"$P" 2>/dev/null || return 1; '
    'L=$(ps -A -o pgid= -o stat= 2>/dev/null) || L=$(ps -o pgid= -o stat= 2>/dev/null) || return 0; '
    '[ -n "$L" ] || return 0; '
    'printf "%s\\n" "$L" | awk -v p="$P" \'$1 == p && $2 !~ /^Z/ { f = 1 } END { exit f ? 0 : 1 }\'; }; '
)

#: The runner, in its own session: report the group id, run the command, write the exit status atomically.
_RUNNER = (
    'J=$1; G=$(ps -o pgid= -p $$ 2>/dev/null | tr -d " "); case "$G" in ""|*[!0-9]*) G=$$;; esac; '
    'printf "%s\\n" "$G" > "$J.pgid.tmp" && mv -f "$J.pgid.tmp" "$J.pgid"; '
    'sh -c "$2" </dev/null; rc=$?; '
    'printf "%s\\n" "$rc" > "$J.rc.tmp" && mv -f "$J.rc.tmp" "$J.rc"'
)


_PERL_SETSID = "POSIX::setsid(); exec @ARGV or die qq(exec: $!)"


def start_script(command: str, job_id: str, base: str = JOB_DIR) -> str:
    """The one command that starts a job; prints ``CKSTART <dir> <pgid>``. ``command`` is passed quoted."""
    valid_job_id(job_id)
    if base == "~" or base.startswith("~/"):
        dir_expr = '"$HOME"' + shlex.quote(base[1:]) if base != "~" else '"$HOME"'
    else:
        dir_expr = shlex.quote(base)
    return (
        '[ -n "$HOME" ] || { echo "HOME is not set" >&2; exit 2; }; '
        f"D={dir_expr}; "
        '(umask 077 && mkdir -p "$D") && chmod 700 "$D" || exit 2; '
        'D=$(CDPATH= cd -- "$D" && pwd -P) || exit 2; '
        f"J=\"$D\"/{job_id}; "
        '(umask 077 && set -C && : > "$J.out") 2>/dev/null || { echo "job $J exists already" >&2; exit 3; }; '
        'rm -f "$J.rc" "$J.rc.tmp" "$J.pgid" "$J.killed"; '
        f"R={shlex.quote(_RUNNER)}; C={shlex.quote(command)}; "
        'if command -v setsid >/dev/null 2>&1; then '
        'setsid sh -c "$R" ck-detached "$J" "$C" </dev/null >>"$J.out" 2>&1 & '
        'elif command -v perl >/dev/null 2>&1; then '  # macOS, BSD: no setsid(1), but perl's POSIX::setsid
        f'perl -MPOSIX -e {shlex.quote(_PERL_SETSID)} sh -c "$R" ck-detached "$J" "$C" </dev/null >>"$J.out" 2>&1 & '
        'else '  # last resort: immune to hangups, but in the process group of this SSH session
        'nohup sh -c "$R" ck-detached "$J" "$C" </dev/null >>"$J.out" 2>&1 & '
        'fi; '
        'B=$!; i=0; '
        f'while [ ! -s "$J.pgid" ] && [ $i -lt {int(START_WAIT * 20)} ]; do '
        'sleep 0.05 2>/dev/null || sleep 1; i=$((i+1)); done; '
        'G=$(cat "$J.pgid" 2>/dev/null); [ -n "$G" ] || G=$B; '
        'printf "CKSTART %s %s\\n" "$G" "$D"'
    )


def poll_script(job: DetachedJob, offset: int, limit: int = POLL_BYTES) -> str:
    """Prints ``CKJOB alive killed rc size offset count`` then ``count`` bytes of output from ``offset``.

    Liveness is read before the rc, and the rc before the size: when the rc is there,
    the size covers everything the command wrote. The count is cut back to a whole
    UTF-8 character while more output can follow, so the next offset never splits one.
    """
    off, lim = max(0, int(offset)), max(4, int(limit))
    return (
        f"P={int(job.pgid)}; J={shlex.quote(job.path)}; O={off}; N={lim}; " + _ALIVE +
        'if alive; then A=1; else A=0; fi; '
        'R=$(cat "$J.rc" 2>/dev/null); [ -n "$R" ] || R=-; '
        'K=0; [ -e "$J.killed" ] && K=1; '
        '[ -e "$J.out" ] || { echo "no job output file $J.out" >&2; exit 4; }; '
        'S=$(wc -c < "$J.out" | tr -d " "); '
        'C=$((S - O)); [ $C -lt 0 ] && C=0; CAP=0; [ $C -gt $N ] && { C=$N; CAP=1; }; '
        # whole characters: find the last lead byte among the final three and drop it if its sequence is cut
        'if [ $C -gt 0 ] && { [ $CAP = 1 ] || { [ $A = 1 ] && [ "$R" = - ]; }; }; then '
        'T=3; [ $C -lt 3 ] && T=$C; '
        'set -- $(tail -c +$((O + C - T + 1)) "$J.out" 2>/dev/null | head -c $T | od -An -tu1); '
        'k=$#; i=0; CUT=0; '
        'for b in "$@"; do i=$((i+1)); '
        'if [ "$b" -lt 128 ]; then CUT=0; '
        'elif [ "$b" -ge 192 ]; then L=2; [ "$b" -ge 224 ] && L=3; [ "$b" -ge 240 ] && L=4; '
        'if [ $((k - i + 1)) -lt $L ]; then CUT=$((k - i + 1)); else CUT=0; fi; fi; done; '
        'C=$((C - CUT)); fi; '
        'printf "CKJOB %s %s %s %s %s %s\\n" $A $K "$R" $S $((O + C)) $C; '
        '[ $C -gt 0 ] && tail -c +$((O + 1)) "$J.out" | head -c $C; exit 0'
    )


def kill_script(job: DetachedJob, grace: float) -> str:
    """Mark the job killed, TERM its group, wait up to ``grace``, KILL what is left; prints ``CKKILL alive``."""
    steps = max(1, int(grace * 10))
    return (
        f"P={int(job.pgid)}; J={shlex.quote(job.path)}; " + _ALIVE +
        'if [ -e "$J.rc" ]; then echo "CKKILL 0"; exit 0; fi; '  # it ended by itself: nothing to kill
        ': > "$J.killed"; kill -TERM -"$P" 2>/dev/null; i=0; '
        f'while alive && [ $i -lt {steps} ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; '
        'alive && kill -KILL -"$P" 2>/dev/null; i=0; '
        'while alive && [ $i -lt 20 ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; '
        'if alive; then echo "CKKILL 1"; else echo "CKKILL 0"; fi'
    )


def cleanup_script(job: DetachedJob) -> str:
    return (
        f"P={int(job.pgid)}; J={shlex.quote(job.path)}; " + _ALIVE +
        'if [ ! -e "$J.rc" ] && alive; then echo "CKCLEAN running"; exit 0; fi; '
        'rm -f "$J.out" "$J.rc" "$J.rc.tmp" "$J.pgid" "$J.pgid.tmp" "$J.killed"; echo "CKCLEAN removed"'
    )


# -- the API -----------------------------------------------------------------------------------


async def start(engine: Any, host: str, command: str, job_id: str, *, base: str = JOB_DIR,
                timeout: float = COMMAND_TIMEOUT) -> DetachedJob:
    """Start ``sh -c command`` detached on ``host``; returns as soon as it runs in its own process group.

    Raises :class:`TransportError` when the host cannot be reached (nothing started)
    and :class:`DetachError` when the host refused (job id in use, no writable home).
    A :class:`DetachTimeout` leaves it open whether the job started: poll the job id.
    """
    res = _checked(host, "starting a detached job", await _run(engine, host, start_script(command, job_id, base),
                                                                 timeout), timeout)
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


# -- integration: ActionRunner.detached and reattaching after a restart -------------------------------

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
    """The coroutine for ``ActionRunner.detached``: ``run(action_id, host, command, timeout, on_output, sudo)``.

    Starts the command detached (``sudo``: as ``sudo -n``, no password can be fed to a detached job),
    journals the job on the host row (``engine.actions.journal.action_host_job``) and its output offset
    every :data:`OFFSET_EVERY` s, follows it and returns a :class:`CommandResult`: the exit status; on
    ``timeout`` the job is killed (``timed_out``); killed or vanished: ``exit_status None`` with the reason
    on stderr. Cancelled: the job is killed, unless cancelled with :data:`KEEP_RUNNING`. The job's files
    are removed right after the runner has journaled the outcome.
    """
    from cockpit.sudo import prepare  # sudo imports nothing from here; kept local to stay import-light

    async def run(action_id: int, host: str, command: str, timeout: float | None,
                  on_output: Callable[[str, str], None] | None, sudo: bool = False) -> CommandResult:
        began = time.monotonic()
        journal = getattr(getattr(engine, "actions", None), "journal", None)
        starting = asyncio.ensure_future(start(engine, host, prepare(command, sudo=sudo, password=None).command,
                                               new_job_id(action_id, host)))
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
