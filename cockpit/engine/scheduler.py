"""The engine: one poller per host, rounds that never overlap, snapshots to subscribers.

A host's next round starts only after its previous one ended (and ``interval``
has passed since it started). A round never waits for the slowest host: each
host publishes as soon as its own round ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from cockpit import detach
from cockpit.checks import HttpProber, LoopLag, ProbeProcess
from cockpit.engine.actions import ActionRunner
from cockpit.engine.rounds import HostPoller
from cockpit.history import History
from cockpit.model import Expect, FleetSnapshot, HostState, StatusChange
from cockpit.sanitize import one_line
from cockpit.secrets import Redactor
from cockpit.spec import Config, HostSpec, LogCheck, ServiceSpec
from cockpit.transports import CommandResult, LocalTransport, OutputCallback, SshPool, SshTransport, Transport


class Subscription:
    """The latest snapshot plus every change (status events, changed hosts) since the consumer last looked;
    never blocks the engine."""

    def __init__(self) -> None:
        self._latest: FleetSnapshot | None = None
        self._events: list[StatusChange] = []
        #: hosts changed in every snapshot merged since the consumer last looked; None: all of them
        self._changed: dict[str, None] | None = {}
        self._ready = asyncio.Event()
        self.closed = False

    def _push(self, snap: FleetSnapshot) -> None:
        self._latest = snap
        self._events.extend(snap.events)
        if self._changed is not None:
            if snap.changed:
                self._changed.update(dict.fromkeys(snap.changed))
            else:
                self._changed = None  # an empty ``changed`` means every host
        self._ready.set()

    async def next(self) -> FleetSnapshot:
        await self._ready.wait()
        self._ready.clear()
        assert self._latest is not None
        snap, events, self._events = self._latest, tuple(self._events), []
        # the union of the merged snapshots' changes: the UI updates only the rows named here
        changed, self._changed = (tuple(self._changed) if self._changed is not None else ()), {}
        return FleetSnapshot(title=snap.title, at=snap.at, hosts=snap.hosts, round=snap.round,
                             phases=snap.phases, changed=changed, events=events)

    def __aiter__(self) -> AsyncIterator[FleetSnapshot]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[FleetSnapshot]:
        while not self.closed:
            yield await self.next()


def diff_states(old: HostState, new: HostState) -> list[StatusChange]:
    """Status changes between two states of one host (reachability and each service)."""
    changes: list[StatusChange] = []
    at = new.round_ended or time.time()
    if old.reach != new.reach and not (old.reach == "unknown" and new.reach == "ok"):
        changes.append(StatusChange(at, new.name, None, old.reach, new.reach, new.error))
    before = {r.service: r for r in old.results}
    for r in new.results:
        prev = before.get(r.service)
        if prev is not None and prev.status != r.status:  # a first result is no change
            changes.append(StatusChange(at, new.name, r.service, prev.status, r.status, r.detail))
    return [c for c in changes if c.old != c.new]


class Engine:
    """Owns transports and pollers; the UI and the CLI only see snapshots."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.redactor = Redactor(config.secrets)
        #: handshake limits per destination sshd, per jump host and for this machine; the jump connections
        self.ssh_pool = SshPool.for_fleet(config.ssh.max_startups, config.ssh.max_handshakes,
                                          sum(h.transport == "ssh" for h in config.hosts))
        self._transports: dict[str, Transport] = {}
        self.prober = HttpProber()
        #: how late this loop runs: a deadline missed while it was late is "cockpit overloaded" (checks/lag.py)
        self.lag = LoopLag()
        #: direct HTTP/TCP probes in a worker process, timed away from rendering (checks/probing.py)
        self.probes = ProbeProcess()
        self.pollers: dict[str, HostPoller] = {}
        #: the log cursors of the runbook's latest baseline (mark_logs_baseline, restore_log_baseline)
        self.log_baseline: dict[str, Any] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        for h in config.hosts:
            self._add_host(h, config)
        self.actions = ActionRunner(self, lambda name: self.config.host(name), self.redactor)  # a reload may move it
        self.actions.detached = detach.action_runner(self)
        state_dir = config.cockpit.state_dir
        self.actions.spool_dir = state_dir / "spool" if state_dir is not None else None
        # windows reach back the runbook's window; a minute more covers a late round
        self.history = History(max_age=config.runbook.window + 60.0)
        #: called with (new host state, its status changes) after every host round, before publishing
        self.round_hooks: list[Callable[[HostState, list[StatusChange]], None]] = []
        #: (host, service) -> what the service should be now and why; the runbook installs its lifecycle
        #: judgment here. Without one, a service with retired_by/introduced_by is inconclusive.
        self.expect: Callable[[str, ServiceSpec], tuple[Expect, str]] | None = None
        self._lifecycle = {s.name: s for s in config.services if s.lifecycle or s.expect != "up"}
        self._subs: list[Subscription] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self._wake: dict[str, asyncio.Event] = {}
        self._round = 0
        self._started = False

    def _add_host(self, h: HostSpec, config: Config) -> None:
        self._transports[h.name] = (
            LocalTransport(h) if h.transport == "local" else SshTransport(h, config.ssh, self.ssh_pool))
        poller = HostPoller(h, config, self._transports[h.name], self.prober, self.transport, self.redactor)
        poller.lag = self.lag
        poller.probes = self.probes
        poller.log_baseline = self._host_log_baseline(h.name)
        self.pollers[h.name] = poller
        self._locks.setdefault(h.name, asyncio.Lock())

    # -- a reloaded config (issue 17) ------------------------------------------------------

    def busy_hosts(self) -> set[str]:
        """Hosts with a command of an action still running: a reload must not move or drop them."""
        return {r.host for run in self.actions.running() for r in run.runs if r.state in ("pending", "running")}

    async def apply_config(self, config: Config) -> list[str]:
        """Apply a reloaded config in place: its services (what each host's round checks), its hosts (added
        ones polled from now on, removed ones dropped, changed ones reconnected with a fresh state) and its
        runbook. Returns what was done, one line per host touched.

        The caller refuses the reload first when a host to drop or reconnect has a command running
        (:meth:`busy_hosts`) and when a part outside these changed ([ssh], [cockpit], ...: a restart). A host is
        swapped under its round lock, so a round in progress ends on the connection it started on.
        """
        old = {h.name: h for h in self.config.hosts}
        new = {h.name: h for h in config.hosts}
        for secret in config.secrets:
            self.redactor.add(secret)
        self.config = config
        self._lifecycle = {s.name: s for s in config.services if s.lifecycle or s.expect != "up"}
        # a longer window keeps more from now on (what is gone stays gone: too few samples say inconclusive)
        self.history.max_age = max(self.history.max_age, config.runbook.window + 60.0)
        done: list[str] = []
        for name in [n for n in old if n not in new]:
            task = self._tasks.pop(name, None)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            async with self._locks[name]:
                await self._transports.pop(name).close()
                del self.pollers[name]
            self._wake.pop(name, None)
            self._locks.pop(name, None)
            done.append(f"host {name} removed: no longer polled")
        for name, h in new.items():
            was = old.get(name)
            if was is None:
                self._add_host(h, config)
                done.append(f"host {name} added: polled from now on")
            elif dataclasses.replace(was, source=None) != dataclasses.replace(h, source=None):
                async with self._locks[name]:
                    await self._transports[name].close()
                    self._add_host(h, config)
                done.append(f"host {name} changed: reconnected, its state starts afresh")
            else:
                poller = self.pollers[name]
                services = config.services_on(name)
                if [s.name for s in services] != [s.name for s in poller.services] or services != poller.services:
                    done.append(f"host {name}: checks {', '.join(s.name for s in services) or 'nothing'} from now on")
                poller.config, poller.services = config, services
        if self._started:
            await self.start()  # pollers for the hosts added
        self.probe_now()
        self._publish(list(self.pollers), [])
        return done

    # -- access ---------------------------------------------------------------------------

    def transport(self, host: str) -> Transport:
        return self._transports[host]

    def judge(self, state: HostState) -> HostState:
        """``state`` with each lifecycle service's expectation now (the observation itself is unchanged).

        Judged once per host round, not on every snapshot (500 hosts publish 500 snapshots a round): a step
        that ends shows in the judgment at its hosts' next round, and its verify rounds are those.
        """
        # a part (a compose container, SERVICE/PART) follows its service's lifecycle
        if not self._lifecycle or not any(r.service.partition("/")[0] in self._lifecycle for r in state.results):
            return state
        results = []
        for r in state.results:
            svc = self._lifecycle.get(r.service.partition("/")[0])
            if svc is not None:
                if self.expect is not None:
                    expect, why = self.expect(state.name, svc)
                elif svc.expect == "down":
                    expect, why = "down", 'expect = "down"'
                else:
                    expect, why = "inconclusive", f"no journal: how far {svc.lifecycle} got is unknown"
                if (expect, why) != (r.expect, r.expect_why):
                    r = dataclasses.replace(r, expect=expect, expect_why=why)
            results.append(r)
        if all(a is b for a, b in zip(results, state.results)):
            return state  # nothing changed: no new state, nothing to publish
        return dataclasses.replace(state, results=tuple(results))

    def rejudge(self, names: Iterable[str] | None = None) -> None:
        """Judge these hosts' last results again now (a step ended, a rollback ran) and publish them."""
        names = list(self.pollers) if names is None else [n for n in names if n in self.pollers]
        changed = []
        for n in names:
            p = self.pollers[n]
            judged = self.judge(p.state)
            if judged is not p.state:
                p.state = judged
                changed.append(n)
        if changed:
            self._publish(changed, [])

    def snapshot(self, changed: Iterable[str] = (), events: Iterable[StatusChange] = ()) -> FleetSnapshot:
        return FleetSnapshot(
            title=self.config.cockpit.title, at=time.time(),
            hosts=tuple(p.state for p in self.pollers.values()), round=self._round,
            phases=tuple(getattr(self.config.cockpit, "phases", ()) or ()),
            changed=tuple(changed), events=tuple(events),
        )

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self._subs.append(sub)
        return sub

    def _publish(self, changed: Iterable[str], events: Iterable[StatusChange]) -> None:
        snap = self.snapshot(changed, events)
        for sub in self._subs:
            if not sub.closed:
                sub._push(snap)

    # -- rounds ---------------------------------------------------------------------------

    async def round_host(self, name: str) -> HostState:
        """One round of one host; rounds of the same host never overlap."""
        poller = self.pollers[name]
        async with self._locks[name]:
            old = poller.state
            t = poller.transport
            if isinstance(t, SshTransport) and not t.connected and old.reach not in ("connecting",):
                poller.state = HostState(name=name, reach="connecting", load=old.load, history=old.history,
                                         results=old.results, tags=old.tags, **poller.connection())
                self._publish([name], [])
            self.lag.start()
            new, old = await self._round_watched(name, old)  # old: what was shown last (maybe mid-round)
            new = poller.state = self.judge(new)
            self.history.add(new)
            events = diff_states(old, new)
            for hook in self.round_hooks:
                hook(new, events)
            self._publish([name], events)
            return new

    async def _round_watched(self, name: str, old: HostState) -> tuple[HostState, HostState]:
        """The host's round; a host silent for a keepalive interval is shown unreachable while it runs on.

        Otherwise a hung host (sshd stopped) kept ``● ok`` until the round's deadline and asyncssh's
        keepalive count (a minute by default). Not when the cockpit's own loop was late.
        """
        poller = self.pollers[name]
        t = poller.transport
        task = asyncio.ensure_future(poller.round())
        if not isinstance(t, SshTransport) or self.config.ssh.keepalive <= 0:
            return await task, old
        began, quiet_checks = time.monotonic(), 0
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                quiet_checks = quiet_checks + 1 if t.silent else 0
                if quiet_checks >= 2 and poller.state.reach == "ok" and not self.lag.blame(began):
                    silent = dataclasses.replace(
                        poller.state, reach="unreachable",
                        error=f"no answer: silent past a keepalive interval ({self.config.ssh.keepalive:g}s); "
                              "waiting for the round's deadline")
                    poller.state = silent
                    events = diff_states(old, silent)
                    for hook in self.round_hooks:
                        hook(silent, events)
                    self._publish([name], events)
                    old = silent
        except asyncio.CancelledError:
            task.cancel()
            raise
        return task.result(), old

    async def run_round(self, hosts: Iterable[str] | None = None) -> FleetSnapshot:
        """A round over the given hosts (default all), for headless commands."""
        names = list(hosts) if hosts is not None else list(self.pollers)
        await asyncio.gather(*(self.round_host(n) for n in names))
        self._round += 1
        snap = self.snapshot(names)
        if hosts is None:
            return snap
        wanted = set(names)
        return dataclasses.replace(snap, hosts=tuple(h for h in snap.hosts if h.name in wanted))

    async def start(self) -> None:
        """Start one poller per host."""
        self._closing = False
        self._started = True
        for name in self.pollers:
            if name not in self._tasks:
                self._wake[name] = asyncio.Event()
                self._tasks[name] = asyncio.create_task(self._poll(name), name=f"poll:{name}")

    async def _poll(self, name: str) -> None:
        interval = self.config.cockpit.interval
        wake = self._wake[name]
        while not self._closing:  # a cancel absorbed somewhere below must not keep a poller alive
            began = time.monotonic()
            wake.clear()
            try:
                await self.round_host(name)
            except Exception as exc:  # a bug in one host's round must not stop its poller
                self.pollers[name].state = HostState(name=name, reach="unknown", error=self.redactor.redact(one_line(f"internal error: {exc!r}")))
                self._publish([name], [])
            if name == next(iter(self.pollers)):
                self._round += 1
            try:
                # asyncio.timeout, not wait_for: on 3.11, wait_for returns normally when the task is
                # cancelled just as the event is set, and aclose() would then wait for this loop forever
                async with asyncio.timeout(max(0.0, interval - (time.monotonic() - began))):
                    await wake.wait()
            except TimeoutError:
                pass

    def probe_now(self, hosts: Iterable[str] | None = None) -> None:
        """Ask the pollers of these hosts for a round now (after any round in progress)."""
        for name in hosts if hosts is not None else self.pollers:
            ev = self._wake.get(name)
            if ev is not None:
                ev.set()

    def retry(self, host: str) -> None:
        """The operator asks to try a host again after an auth or host-key failure."""
        t = self._transports[host]
        if isinstance(t, SshTransport):
            t.reset()
        self.probe_now([host])

    # -- commands (actions) ----------------------------------------------------------------

    async def mark_logs(self, label: str) -> None:
        """Log checks count from here (a step starts): each host with one reads its logs once more first.

        What those rounds read happened before the mark; the step's command runs after this returns, so
        whatever it causes is counted after it (engine/logwatch.py).
        """
        names = self._log_hosts("step")
        await asyncio.gather(*(self.round_host(n) for n in names), return_exceptions=True)
        for n in names:
            if n in self.pollers:
                self.pollers[n].mark_logs(label)
        if names:
            self._publish(names, [])

    async def mark_logs_baseline(self) -> dict[str, Any]:
        """A baseline is taken: every log check reads once more, and ``since = "baseline"`` ones count from here.

        Returns what the baseline records so a later cockpit reads from the same point
        (:meth:`restore_log_baseline`): ``{"at": time, "cursors": {host: {service: cursor}}}``.
        """
        names = self._log_hosts(None)
        await asyncio.gather(*(self.round_host(n) for n in names), return_exceptions=True)
        at = time.time()
        cursors = {n: self.pollers[n].mark_baseline(at) for n in names if n in self.pollers}
        self.log_baseline = {"at": at, "cursors": cursors}
        if names:
            self._publish(names, [])
        return self.log_baseline

    def restore_log_baseline(self, recorded: dict[str, Any] | None) -> None:
        """The journal's latest baseline (its ``logs`` part): ``since = "baseline"`` checks read from its cursors."""
        self.log_baseline = recorded
        for name, poller in self.pollers.items():
            poller.log_baseline = self._host_log_baseline(name)

    def _host_log_baseline(self, host: str) -> tuple[dict[str, str], float] | None:
        if not self.log_baseline:
            return None
        cursors = self.log_baseline.get("cursors", {}).get(host, {})
        return {str(k): str(v) for k, v in cursors.items()}, float(self.log_baseline["at"])

    def _log_hosts(self, since: str | None) -> list[str]:
        """Hosts with a log check (counting ``since`` that point; None: any)."""
        return [n for n, p in self.pollers.items()
                if any(isinstance(s.check, LogCheck) and since in (None, s.check.since) for s in p.services)]

    async def run_command(self, host: str, command: str, *, timeout: float | None,
                          on_output: OutputCallback | None = None, max_output: int = 1 << 20,
                          stdin: str | None = None) -> CommandResult:
        """Run an operator's command on a host (no PTY, own process group, bounded output).

        ``stdin`` is fed to the command (sudo -S); without it stdin is /dev/null.
        """
        spec = self.config.host(host)
        return await self._transports[host].run(command, stdin=stdin, timeout=timeout, on_output=on_output,
                                                max_output=max_output, login_shell=spec.login_shell)

    def kills_pending(self) -> set[str]:
        """Hosts where a cancelled command's kill has not been delivered yet."""
        return {name for name, t in self._transports.items() if getattr(t, "kills_pending", False)}

    async def aclose(self) -> None:
        self._closing = True
        for run in self.actions.running():
            self.actions.cancel(run.id, shutdown=True)  # detached jobs run on, journaled, reattachable
        await self.actions.settle()
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        for sub in self._subs:
            sub.closed = True
        await asyncio.gather(*(t.close() for t in self._transports.values()), return_exceptions=True)
        await self.ssh_pool.aclose()  # the jump hosts' connections, once nothing tunnels through them
        await self.prober.aclose()
        await self.probes.aclose()
        await self.lag.stop()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
