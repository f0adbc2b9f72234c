"""Operator actions: a command fired on several hosts at once, output streamed, kept for review.

The runner publishes immutable :class:`ActionRun` snapshots; listeners (the UI)
get every change and every chunk of output as it arrives. Output is kept
sanitised, redacted and tail-bounded per host, spooled to a file per host under the state
directory (:mod:`cockpit.engine.spool`), and handed to listeners in coalesced batches (at most
ten a second per action), never one call per chunk.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

from cockpit.detach import KEEP_RUNNING
from cockpit.engine.placeholders import placeholder_env, render_command
from cockpit.engine.spool import FLUSH_EVERY, SPOOL_CAP, Spool, spool_path
from cockpit.errors import CockpitError, TransportError
from cockpit.sanitize import strip_control
from cockpit.secrets import Redactor
from cockpit.spec import HostSpec
from cockpit.sudo import SudoPassword, add_to_redactor
from cockpit.sudo import prepare as prepare_sudo
from cockpit.sudo import run as run_sudo
from cockpit.transports import CommandResult, OutputCallback, TailBuffer

RunState = Literal["pending", "running", "ok", "failed", "timeout", "cancelled", "error"]
FINAL_STATES = frozenset({"ok", "failed", "timeout", "cancelled", "error"})

#: every key the cockpit binds itself: key -> (the binding's name, where it acts). A configured action may not
#: take one; ``cockpit validate`` names the binding. The screens' real bindings are checked against this table
#: (tests/test_validate_keys.py): the engine never imports the screens, so it keeps its own copy.
BUILTIN_KEYS: dict[str, tuple[str, str]] = {
    "q": ("Quit", "everywhere"), "ctrl+q": ("Quit", "everywhere"), "question_mark": ("Keys", "everywhere"),
    "colon": ("Palette", "everywhere"), "ctrl+p": ("Palette", "everywhere"),
    "p": ("Probe", "dashboard"), "exclamation_mark": ("Run cmd", "dashboard"),
    "space": ("Select", "fleet table (the host under the cursor)"), "slash": ("Filter", "fleet table"),
    "m": ("More cols", "fleet table, below 100 columns"), "enter": ("Detail", "fleet table (the host under the cursor)"),
    "o": ("Sort", "fleet table"),
    "N": ("Previous match", "output pane"), "W": ("Wrap", "output pane"), "D": ("Save output", "output pane"),
    "Y": ("Copy output", "output pane"),
    "x": ("Cancel host", "output pane (the host of its tab)"), "X": ("Cancel all", "output pane (the action shown)"),
    "r": ("Retry host", "fleet table (the host under the cursor)"),
    "b": ("Baseline", "dashboard"), "R": ("Rollback", "dashboard"),
    "S": ("Skip step", "plan (the selected step)"), "O": ("Override phase", "plan (the selected phase)"),
    "K": ("Tick manual step done", "plan (the selected step)"),
    "F": ("Mark manual step failed", "plan (the selected step)"),
    "U": ("Roll back step/phase", "plan (the selected step or phase)"), "T": ("Take over stale lease", "dashboard"),
    "C": ("Continue rolling step", "plan (the paused rolling step)"), "A": ("Accept plan change", "dashboard"),
    "L": ("Load the driver's plan", "dashboard"),
    "1": ("Fleet", "dashboard"), "2": ("Services", "dashboard"), "3": ("Plan", "dashboard"),
    "4": ("Output", "dashboard"), "percent_sign": ("Service CPU/mem", "dashboard"), "y": ("Yes, run it", "confirmation"), "n": ("No", "confirmation"),
    "escape": ("Cancel", "confirmation and prompts"),
}
#: runbook keys (they act on the plan): validate calls them so
RUNBOOK_KEYS = frozenset({"b", "R", "S", "O", "K", "F", "U", "T", "C", "A", "L"})
#: keys a configured action may not take: the built-in ones (also as typed: "/", "?", "!", ":"), and the keys
#: that move the cursor and the focus
RESERVED_KEYS = frozenset({
    *BUILTIN_KEYS, "/", "?", "!", ":", "%", "tab", "shift+tab", "up", "down", "left", "right", "pageup", "pagedown",
    "home", "end", "ctrl+c",
})

OUTPUT_LIMIT = 256 * 1024  # characters of output kept per host per action (the tail)
DEFAULT_ACTION_TIMEOUT = 1800.0
STDERR_TAIL = 2048  # characters of a host's stderr kept apart from its output: a failure's reason

@dataclass(frozen=True)
class HostRun:
    """One host's part of an action."""

    host: str
    command: str  # as run on this host, redacted
    state: RunState = "pending"
    exit_status: int | None = None
    started: float | None = None
    ended: float | None = None
    output: str = ""  # stdout and stderr interleaved as they came, sanitised, redacted, tail-bounded
    truncated: bool = False
    error: str = ""
    spool: str = ""  # the file holding this host's whole output (see cockpit.engine.spool); "" if none
    lines: int = 0  # lines of output seen
    dropped: int = 0  # lines the spool's cap left out of the file (a marker line there says how many)
    signal: str = ""  # the signal that killed it ("TERM"), when the transport knows
    stderr: str = ""  # the tail of its stderr alone (sanitised, redacted): why it failed

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


@dataclass(frozen=True)
class ActionRun:
    """An action across its hosts; a new object on every change."""

    id: int
    title: str
    command: str  # the template, redacted
    runs: tuple[HostRun, ...]
    started: float
    operator: str = ""
    ended: float | None = None
    kind: str = "action"  # action | adhoc | probe | step | rollback
    phase: str | None = None
    step: str | None = None
    group: int = 0  # a rolling step's batches share the id of its first batch (0: this action alone)
    batch: str = ""  # "batch 2/3" for a rolling step's batch

    @property
    def group_id(self) -> int:
        """The id that ties a rolling step's batches together: the first batch's (else its own)."""
        return self.group or self.id

    @property
    def done(self) -> bool:
        return all(r.state in FINAL_STATES for r in self.runs)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(r.host for r in self.runs)

    def run_for(self, host: str) -> HostRun:
        for r in self.runs:
            if r.host == host:
                return r
        raise KeyError(host)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.runs:
            counts[r.state] = counts.get(r.state, 0) + 1
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


class Executor(Protocol):
    """What the runner needs from the engine: run a command on a host."""

    async def run_command(self, host: str, command: str, *, timeout: float | None,
                          on_output: OutputCallback | None = None, max_output: int = ...,
                          stdin: str | None = None) -> CommandResult: ...


class ActionJournal(Protocol):
    """Where actions are recorded (cockpit.journal.Journal): the intent before anything fires."""

    def action_intent(self, title: str, kind: str, command: str, hosts: list[tuple[str, str]],
                      phase: str | None = None, step: str | None = None) -> int: ...
    def action_host_started(self, action_id: int, host: str, at: float) -> None: ...
    def action_host_done(self, action_id: int, host: str, state: str, exit_status: int | None, started: float | None,
                         ended: float | None, output: str, truncated: bool, error: str) -> None: ...
    def action_ended(self, action_id: int, at: float) -> None: ...


class ActionListener(Protocol):
    """Gets every change, and output as batches of complete lines (``text`` ends with a newline).

    A listener with an ``output_tail`` attribute (> 0) gets only the latest that many lines of
    each batch, and ``skipped`` says how many came before them (they are in the spool).
    """

    def action_changed(self, run: ActionRun) -> None: ...
    def action_output(self, action_id: int, host: str, text: str, skipped: int = 0) -> None: ...


@dataclass
class _Live:
    run: ActionRun
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    buffers: dict[str, TailBuffer] = field(default_factory=dict)
    detached: set[str] = field(default_factory=set)
    spools: dict[str, Spool] = field(default_factory=dict)
    flush: asyncio.TimerHandle | None = None  # the next batch to the listeners, when output waits
    flushed: float = 0.0  # monotonic time of the last batch
    reason: str = ""  # why it was cancelled (a signal), journaled with each cancelled host


class ActionRunner:
    """Fires actions concurrently across hosts (within the transports' own limits)."""

    def __init__(self, executor: Executor, hosts: Callable[[str], HostSpec], redactor: Redactor,
                 history: int = 200) -> None:
        self._exec = executor
        self._hosts = hosts
        self._redactor = redactor
        self._ids = itertools.count(1)
        self._live: dict[int, _Live] = {}
        self.history: deque[ActionRun] = deque(maxlen=history)
        self._stopped: list[tuple[int, str]] = []  # (action, host) cancelled by a signal's stop
        self.listeners: list[ActionListener] = []
        self.journal: ActionJournal | None = None
        self.journal_error = ""
        #: what happened (a host started, ended; the action ended), written in order by one task off the loop
        self._records: deque[tuple[str, tuple[object, ...]]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._writing = threading.Lock()  # held while a batch is written; abandon() waits on it (bounded)
        self.sudo_password: SudoPassword | None = None
        #: asked before each host's command: "" to go, else why not (the session's lease check)
        self.may_exec: Callable[[], str] | None = None
        #: runs a detached command and follows it (set by the engine; see cockpit.detach)
        self.detached: Callable[..., Awaitable[CommandResult]] | None = None
        #: where output spools go (``<state_dir>/spool``, set by the engine); None: memory only
        self.spool_dir: Path | None = None
        self.spool_cap = SPOOL_CAP  # bytes per host per action

    def set_sudo_password(self, password: SudoPassword) -> None:
        """The --ask-sudo password: kept in memory only, masked in everything shown or written."""
        self.sudo_password = password
        add_to_redactor(self._redactor, password)

    def _clean(self, text: str) -> str:
        return self._redactor.redact(strip_control(text))

    def _emit(self, live: _Live) -> None:
        for listener in self.listeners:
            listener.action_changed(live.run)

    def _record(self, method: str, *args: object) -> None:
        """Journal what happened, in order, without the event loop waiting for the journal (a PostgreSQL
        journal may take its statement_timeout): the command already ran, so a failed write is reported
        (``journal_error``), not raised. :meth:`wait`, :meth:`settle` and :meth:`flush_records` wait for it."""
        if self.journal is None:
            return
        self._records.append((method, args))
        if self._writer is None or self._writer.done():
            try:
                self._writer = asyncio.get_running_loop().create_task(self._write_records(), name="action-records")
            except RuntimeError:  # no loop (a test, the exit path): written now
                self._write_now()

    async def _write_records(self) -> None:
        while self._records:
            await asyncio.to_thread(self._write_pending)

    def _write_pending(self) -> None:
        """In a thread: every queued record, in order; the lock keeps an exit's own writes after these."""
        with self._writing:
            self._write_queued()

    def _write_queued(self) -> None:
        while self._records:
            method, args = self._records.popleft()
            try:
                getattr(self.journal, method)(*args)
            except CockpitError as exc:
                self.journal_error = exc.message

    def _write_now(self, timeout: float = 3.0) -> None:
        """Exiting at once: what is queued is written here, after the records in flight (bounded wait for them)."""
        if not self._writing.acquire(timeout=timeout):
            return  # a write stuck on the database: the exit does not wait for it
        try:
            self._write_queued()
        finally:
            self._writing.release()

    async def flush_records(self, timeout: float = 10.0) -> None:
        """Until what was recorded so far is in the journal (bounded: a stuck database is not waited for)."""
        writer = self._writer
        if writer is not None and not writer.done():
            await asyncio.wait([writer], timeout=timeout)

    def _update(self, live: _Live, host: str, **changes: object) -> None:
        runs = tuple(replace(r, **changes) if r.host == host else r for r in live.run.runs)  # type: ignore[arg-type]
        live.run = replace(live.run, runs=runs)
        hr = live.run.run_for(host)
        if hr.state == "running":
            self._record("action_host_started", live.run.id, host, hr.started)
        elif hr.state in FINAL_STATES:
            self._record("action_host_done", live.run.id, host, hr.state, hr.exit_status, hr.started, hr.ended,
                         hr.output, hr.truncated, hr.error)
        if live.run.done and live.run.ended is None:
            live.run = replace(live.run, ended=time.time())
            self._record("action_ended", live.run.id, live.run.ended)
            self._live.pop(live.run.id, None)
            if live.flush is not None:
                live.flush.cancel()
                live.flush = None
        self._replace_history(live.run)
        self._emit(live)

    def _flush(self, live: _Live) -> None:
        """One batch per host with new lines to the listeners (the timer set by the first chunk since the last)."""
        live.flush = None
        live.flushed = time.monotonic()
        for host, spool in live.spools.items():
            if spool.has_pending:
                self._hand_out(live.run.id, host, *spool.take())

    def _hand_out(self, action_id: int, host: str, lines: list[str], skipped: int) -> None:
        if not lines and not skipped:
            return
        text = "\n".join(lines) + "\n" if lines else ""
        for listener in self.listeners:
            listener.action_output(action_id, host, text, skipped)

    def _end_output(self, live: _Live, host: str) -> dict[str, object]:
        """A host ended: its last lines go out before its final state; the spool is closed."""
        spool = live.spools[host]
        self._hand_out(live.run.id, host, *spool.take(final=True))
        spool.close()
        changes: dict[str, object] = {"lines": spool.lines, "dropped": spool.lost,
                                      "spool": str(spool.path) if spool.path is not None and not spool.error else ""}
        if spool.error:
            changes["error"] = self._clean(spool.error)
        return changes

    def _replace_history(self, run: ActionRun) -> None:
        for i, old in enumerate(self.history):
            if old.id == run.id:
                self.history[i] = run
                return
        self.history.append(run)

    async def start(self, title: str, template: str, hosts: Iterable[str], *, timeout: float | None = DEFAULT_ACTION_TIMEOUT,
              operator: str = "", kind: str = "action", phase: str | None = None, step: str | None = None,
              sudo: bool = False, detach: bool = False, env: Mapping[str, str] | None = None,
              group: int = 0, batch: str = "") -> ActionRun:
        """Start the action on every host now; returns its first snapshot. Must run in the engine's loop.

        With a journal, the intent is written (and synced) before anything fires; if that
        write fails the action is refused with the journal's error. The write runs in a thread: the event loop
        (the screen, the pollers) never waits for the database, while this call does. ``env`` (the action's or
        step's ``env`` table) reaches the command on stdin, never in an argv (:mod:`cockpit.sudo`).

        Raises:
            PlaceholderError: a placeholder value is not shell-safe (a typed command); nothing ran.
        """
        names = list(dict.fromkeys(hosts))
        secrets = self._redactor.secrets
        commands = {h: render_command(template, self._hosts(h), secrets) for h in names}
        envs = {h: {**(env or {}), **placeholder_env(template, self._hosts(h), secrets)} for h in names}
        for h in names:
            prepare_sudo(commands[h], sudo=sudo, password=None)  # refuses forms like sudo -i before anything fires
        redacted = {h: self._redactor.redact(commands[h]) for h in names}
        if self.journal is not None:
            action_id = await asyncio.to_thread(self.journal.action_intent, title, kind,
                                                self._redactor.redact(template), [(h, redacted[h]) for h in names],
                                                phase=phase, step=step)
        else:
            action_id = next(self._ids)
        spools = {h: spool_path(self.spool_dir, action_id, h) if self.spool_dir else None for h in names}
        run = ActionRun(  # each host's spool path from the start: the pane searches and saves it while it runs
            id=action_id, title=title, command=self._redactor.redact(template), operator=operator, kind=kind,
            runs=tuple(HostRun(host=h, command=redacted[h], spool=str(spools[h] or "")) for h in names),
            started=time.time(), phase=phase, step=step, group=group, batch=batch,
        )
        live = _Live(run)
        self._live[run.id] = live
        self.history.append(run)
        self._emit(live)
        tails = [getattr(listener, "output_tail", 0) for listener in self.listeners]
        keep = min(tails) if tails and all(tails) else 0
        for h in names:
            live.buffers[h] = TailBuffer(OUTPUT_LIMIT)
            live.spools[h] = Spool(spools[h], self.spool_cap)
            live.spools[h].keep = keep
            live.tasks[h] = asyncio.create_task(self._one(live, h, commands[h], timeout, sudo, detach, envs[h]),
                                                name=f"action:{run.id}:{h}")
        return run

    async def wait(self, action_id: int) -> ActionRun:
        live = self._live.get(action_id)
        if live is not None:
            await asyncio.gather(*live.tasks.values(), return_exceptions=True)
        await self.flush_records()
        for run in self.history:
            if run.id == action_id:
                return run
        raise KeyError(action_id)

    async def run(self, title: str, template: str, hosts: Iterable[str], **kw: object) -> ActionRun:
        """Start and wait for the end (headless use and tests)."""
        first = await self.start(title, template, hosts, **kw)  # type: ignore[arg-type]
        return await self.wait(first.id)

    def cancel(self, action_id: int, host: str | None = None, *, shutdown: bool = False, reason: str = "") -> None:
        """Cancel an action (or one host of it); the transport signals the remote process group.

        ``shutdown``: the cockpit is quitting; detached jobs are left running (they are journaled and a
        restarted cockpit reattaches), everything else is stopped. ``reason`` is journaled with each host.
        """
        live = self._live.get(action_id)
        if live is None:
            return
        live.reason = live.reason or reason
        for h, task in live.tasks.items():
            if (host is None or h == host) and not task.done():
                if shutdown and h in live.detached:
                    task.cancel(KEEP_RUNNING)
                else:
                    task.cancel()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait (bounded) for cancelled tasks to finish their bookkeeping."""
        tasks = [t for lv in self._live.values() for t in lv.tasks.values() if not t.done()]
        started = time.monotonic()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.flush_records(max(0.1, timeout - (time.monotonic() - started)))

    def abandon(self, note: str, unconfirmed: Iterable[str] = ()) -> int:
        """Exiting at once (a second signal): journal every open, non-detached host as ``interrupted`` with
        ``note``; its remote command may still run. So are hosts in ``unconfirmed`` already journaled
        cancelled by the signal's stop whose kill the host has not confirmed. Detached jobs stay journaled as running.
        Returns the count."""
        count = 0
        unsure = set(unconfirmed)
        self._write_now()  # what is queued first, in order
        record = self._record_now
        for action_id, host in self._stopped:
            run = next((r for r in self.history if r.id == action_id), None)
            if run is not None and host in unsure:
                hr = run.run_for(host)
                record("action_host_done", action_id, host, "interrupted", None, hr.started, hr.ended,
                             hr.output, hr.truncated, f"{note}; the host never confirmed the kill")
                count += 1
        for live in list(self._live.values()):
            for r in live.run.runs:
                if r.state in FINAL_STATES or r.host in live.detached:
                    continue
                buf = live.buffers.get(r.host)
                if r.host in live.spools:
                    live.spools[r.host].close()  # what came so far stays readable
                record("action_host_done", live.run.id, r.host, "interrupted", None, r.started, time.time(),
                             buf.getvalue() if buf else "", bool(buf and buf.truncated), note)
                count += 1
            if not live.detached:
                record("action_ended", live.run.id, time.time())
        return count

    def _record_now(self, method: str, *args: object) -> None:
        self._records.append((method, args))
        self._write_now()

    def running(self) -> list[ActionRun]:
        return [lv.run for lv in self._live.values() if not lv.run.done]

    def for_host(self, host: str, limit: int = 10) -> list[tuple[ActionRun, HostRun]]:
        """The last actions that touched a host, newest first."""
        out = []
        for run in reversed(self.history):
            for r in run.runs:
                if r.host == host:
                    out.append((run, r))
            if len(out) >= limit:
                break
        return out

    async def _one(self, live: _Live, host: str, command: str, timeout: float | None, sudo: bool = False,
                   detach: bool = False, env: Mapping[str, str] | None = None) -> None:
        buf = live.buffers[host]

        spool = live.spools[host]

        def on_output(_stream: str, text: str) -> None:
            clean = self._clean(text)
            buf.write(clean)
            spool.write(clean)
            if spool.has_pending and live.flush is None:
                delay = max(0.0, live.flushed + FLUSH_EVERY - time.monotonic())
                live.flush = asyncio.get_running_loop().call_later(delay, self._flush, live)

        refused = self.may_exec() if self.may_exec is not None else ""
        if refused:  # the intent is journaled; the host never ran it, and says why
            self._update(live, host, state="error", ended=time.time(), error=self._clean(refused))
            return
        self._update(live, host, state="running", started=time.time())
        message = ""
        try:
            if detach and self.detached is not None:
                live.detached.add(host)
                res = await self.detached(live.run.id, host, command, timeout, on_output, sudo, env or None)
            else:
                done = await run_sudo(self._exec, host, command, sudo=sudo, password=self.sudo_password,
                                      timeout=timeout, on_output=on_output, max_output=OUTPUT_LIMIT,
                                      user=self._hosts(host).user, env=env or None)
                res, message = done.result, done.message or ""
        except asyncio.CancelledError as exc:
            if KEEP_RUNNING in exc.args:
                return  # quitting: the detached job runs on; the journal still says running, with its job
            if live.reason:
                self._stopped.append((live.run.id, host))
            self._update(live, host, **{**self._end_output(live, host), "state": "cancelled", "ended": time.time(),
                                        "output": buf.getvalue(), "truncated": buf.truncated, "error": live.reason})
            return
        except TransportError as exc:
            self._update(live, host, **{**self._end_output(live, host), "state": "error", "ended": time.time(),
                                        "error": self._clean(exc.message), "output": buf.getvalue()})
            return
        state: RunState = "timeout" if res.timed_out else ("ok" if res.exit_status == 0 else "failed")
        ended = self._end_output(live, host)
        if message:
            ended["error"] = self._clean(message)
        self._update(live, host, **ended, state=state, exit_status=res.exit_status, ended=time.time(),
                     output=buf.getvalue(), truncated=buf.truncated or res.truncated, signal=res.signal,
                     stderr=self._clean(res.stderr[-STDERR_TAIL:]))
