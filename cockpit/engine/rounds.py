"""One host's round: connect, run the batched script, probe HTTP/TCP, sample load.

A round has its own deadline so a slow host slows nobody else. Host-side checks
and the load sample share one SSH round trip; HTTP and TCP checks run from the
cockpit at the same time (and still answer when SSH to the host does not).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from cockpit.checks import (
    SECTION_LIMIT,
    HttpProber,
    LoopLag,
    Probed,
    ProbeProcess,
    Section,
    Verdict,
    blame_for,
    build_script,
    check_snippet,
    compose_declared,
    compose_snippet,
    end_marker,
    locator,
    parse_passes,
    resources_snippet,
    judge,
    judge_compose,
    lateness,
    log_snippet,
    needs_cut,
    new_delimiter,
    parse_log,
    parse_round,
    probe_dns,
    probe_tcp,
    probe_ws,
    render_target,
    restarts_rose,
    run_delay,
    trust_timing,
)
from cockpit.engine.load import LoadTracker
from cockpit.engine.logwatch import LogState
from cockpit.engine.usage import UsageTracker
from cockpit.errors import HostKeyError, TransportError
from cockpit.model import CheckResult, HostState, Load, Status, Usage
from cockpit.sanitize import one_line
from cockpit.secrets import Redactor
from cockpit.spec import (
    Check,
    ComposeCheck,
    Config,
    DnsCheck,
    HostSpec,
    HttpCheck,
    LogCheck,
    Pm2Check,
    ServiceSpec,
    TcpCheck,
    WsCheck,
    runs_on_host,
)
from cockpit.transports import LocalTransport, SshTransport, Transport

#: default total deadline of an HTTP or TCP probe when the service sets no timeout
NETWORK_CHECK_DEADLINE = 10.0

TransportLookup = Callable[[str], Transport]


class HostPoller:
    """Everything the engine keeps about one host between rounds."""

    def __init__(self, spec: HostSpec, config: Config, transport: Transport, prober: HttpProber,
                 transports: TransportLookup, redactor: Redactor) -> None:
        self.spec = spec
        self.config = config
        self.transport = transport
        self.prober = prober
        self.transports = transports
        self.redactor = redactor
        self.services = config.services_on(spec.name)
        self.tracker = LoadTracker(config.cockpit.history)
        self.usage = UsageTracker(config.cockpit.history)
        self.state = HostState(name=spec.name, reach="unknown", tags=spec.tags)
        self.lag = LoopLag()  # the engine's monitor replaces this idle one: a missed deadline is blamed right
        #: direct probes run in the probe worker (checks/probing.py); None: in this loop
        self.probes: ProbeProcess | None = None
        self.logs: dict[str, LogState] = {}  # log checks: cursor and matches, per service
        #: the latest baseline's log cursors on this host (service -> cursor) and when it was taken
        self.log_baseline: tuple[dict[str, str], float] | None = None
        #: compose checks with a file: its checksum and the services it declared when last listed
        self.compose_files: dict[str, tuple[str | None, tuple[str, ...]]] = {}

    @property
    def deadline(self) -> float:
        """The longest a round of this host may take."""
        s = self.config.ssh
        return s.connect_timeout + s.command_timeout + 1.0

    def _text(self, text: str) -> str:
        return self.redactor.redact(one_line(text))

    async def round(self) -> HostState:
        started = time.time()
        remote_services = [s for s in self.services if runs_on_host(s.check)]
        net_services = [s for s in self.services if not runs_on_host(s.check)]
        net_tasks = [asyncio.create_task(self._network(s)) for s in net_services]
        # Connecting first, outside the round's deadline: a host waiting for a handshake slot waits in the
        # cockpit's own queue (1,000 hosts at 32 handshakes at a time), and that is no fault of the host.
        # The handshake itself has its deadline (connect_timeout, in the transport); the host shows
        # "connecting" meanwhile.
        connect_error: TransportError | None = None
        try:
            await self.transport.connect()
        except TransportError as exc:
            connect_error = exc
        began = time.monotonic()
        host_task = asyncio.create_task(self._host_side(remote_services, connect_error))
        try:
            async with asyncio.timeout(self.deadline):
                reach, error, fingerprint, load, host_results = await host_task
        except TimeoutError:
            blame = self.lag.blame(began)
            if blame:  # the cockpit was late, not the host: keep its reach, judge nothing
                reach, error, fingerprint, load = self.state.reach, blame, self.state.fingerprint, None
            else:
                reach, error, fingerprint, load = "unreachable", f"round exceeded {self.deadline:g}s", "", None
            host_results = [self._result(s, Verdict("unknown", blame or "host round timed out"), None)
                            for s in remote_services]
        net_results = await asyncio.gather(*net_tasks)
        before = {r.service: r for r in self.state.results}
        rank = {s.name: i for i, s in enumerate(self.services)}
        # a check's parts (a compose project's containers) follow it, in the order they were judged
        every = sorted([*host_results, *net_results], key=lambda r: rank.get(r.service.partition("/")[0], len(rank)))
        results = tuple(_carry_since(r, before.get(r.service), stale=reach != "ok") for r in every)
        history = tuple(self.tracker.history)
        self.state = HostState(
            name=self.spec.name, reach=reach, error=self._text(error), fingerprint=fingerprint,
            load=load if load is not None else (self.state.load if reach != "ok" else None),
            history=history, results=results, round_started=started, round_ended=time.time(),
            tags=self.spec.tags, **self.connection(),
        )
        return self.state

    def connection(self) -> dict[str, Any]:
        """The host's resolved SSH connection and its notes, for the host detail (sanitised, redacted)."""
        r = self.transport.resolved if isinstance(self.transport, SshTransport) else None
        if r is None:
            return {}
        where = f"{r.user}@{r.hostname}:{r.port}" + (f" via {r.proxy_jump}" if r.proxy_jump else "")
        notes = tuple(self.redactor.redact(one_line(n, 500)) for n in r.warnings())  # paths are long: keep them whole
        return {"connection": self._text(where), "notes": notes}

    def _result(self, svc: ServiceSpec, v: Verdict, latency: float | None) -> CheckResult:
        status, detail = self._rose(svc.name, v.status, v.detail, v.extra, svc.check)
        return CheckResult(service=svc.name, host=self.spec.name, kind=svc.check.kind, status=status,
                           detail=self._text(detail), latency=latency, at=time.time(),
                           critical=svc.critical, extra=v.extra)

    def _results(self, svc: ServiceSpec, v: Verdict) -> list[CheckResult]:
        """A host-side check's result, then one per part (``SERVICE/PART``: a compose project's containers)."""
        out = [self._result(svc, v, None)]
        for part in v.parts:
            name = f"{svc.name}/{part.name}"
            status, detail = self._rose(name, part.status, part.detail, part.extra, svc.check, part.name)
            out.append(CheckResult(service=name, host=self.spec.name, kind=svc.check.kind, status=status,
                                   detail=self._text(detail), latency=None, at=time.time(),
                                   critical=svc.critical and part.critical, extra=part.extra))
        return out

    def _rose(self, name: str, status: Status, detail: str, extra: tuple[tuple[str, float | int | str], ...],
              check: Check, part: str | None = None) -> tuple[Status, str]:
        """pm2 apps and compose containers: restarts rising since the last round are a finding."""
        if not isinstance(check, Pm2Check) and part is None:
            return status, detail
        old = next((r for r in self.state.results if r.service == name), None)
        now, before = dict(extra).get("restarts"), old.get("restarts") if old is not None else None
        allowed = isinstance(check, ComposeCheck) and part is not None and "restarting" in check.allowed(part)
        return restarts_rose(status, detail, now if isinstance(now, int) else None,
                             before if isinstance(before, int) else None, allowed)

    async def _host_side(self, services: list[ServiceSpec], connect_error: TransportError | None = None,
                         ) -> tuple[str, str, str, Load | None, list[CheckResult]]:
        """One batched script for the host-side checks and the load sample, once connected."""
        t = self.transport
        if connect_error is not None:
            exc = connect_error
            fp = exc.fingerprint if isinstance(exc, HostKeyError) else ""
            reach = exc.reason if exc.reason.startswith(("host-key", "auth")) else "unreachable"
            why = f"{exc.reason}: {exc.message}"
            return reach, why, fp, None, [
                self._result(s, Verdict("unknown", f"host {reach}"), None) for s in services
            ]
        local = isinstance(t, LocalTransport)
        sections = [Section(f"s{i}", self._snippet(s), cut=needs_cut(s.check)) for i, s in enumerate(services)]
        if not local:
            sections.append(Section("load", self.tracker.snippet(self.spec.mounts), cut=False))
        # every service's CPU and memory in this same script: one round trip however many services
        targets = [(f"s{i}", loc) for i, s in enumerate(services) if (loc := locator(s.check)) is not None]
        if targets:
            sections.append(Section("res", resources_snippet(targets, prime=not self.usage.rounds), cut=False))
        load: Load | None = None
        if local:
            if not self.tracker.primed:  # first round: a short gap so even a one-shot snapshot has CPU
                self.tracker.prime_local()
                await asyncio.sleep(0.1)
            load = self.tracker.add(self.tracker.sample_local(self.spec.mounts))
        if not sections:
            return "ok", "", "", load, []
        delim = new_delimiter()
        script = build_script(sections, delim)
        limit = SECTION_LIMIT * (len(sections) + 1) + 65536
        try:
            if isinstance(t, SshTransport):  # the host's kept shell: no new session per round
                res = await t.run_script(script, end_marker(delim), timeout=self.config.ssh.command_timeout,
                                         max_output=limit)
            else:
                res = await t.run(None, stdin=script, timeout=self.config.ssh.command_timeout, max_output=limit)
        except TransportError as exc:
            return "unreachable", f"{exc.reason}: {exc.message}", "", None, [
                self._result(s, Verdict("unknown", f"host {exc.reason}"), None) for s in services
            ]
        if res.timed_out and isinstance(t, SshTransport) and t.silent and not self.lag.blame(time.monotonic() - res.duration):
            why = f"no answer: silent past a keepalive interval ({self.config.ssh.keepalive:g}s)"
            return "unreachable", why, "", None, [self._result(s, Verdict("unknown", "host not answering"), None)
                                                   for s in services]
        parsed = parse_round(res.stdout, res.stderr, delim)
        if not local and "load" in parsed:
            load = self.tracker.add(self.tracker.parse(parsed["load"].output))
        usage = self._usage(services, parsed["res"].output, load) if targets and "res" in parsed else {}
        results = []
        for i, s in enumerate(services):
            out = parsed.get(f"s{i}")
            if out is None:
                why = "check did not finish before the round deadline" if res.timed_out else "no answer from the check"
                v = Verdict("unknown", why)
            elif isinstance(s.check, ComposeCheck) and s.check.file is not None and out.rc is not None:
                key, names = compose_declared(out.output)
                if names is not None:
                    self.compose_files[s.name] = (key, names)
                elif key != self.compose_files.get(s.name, (None, ()))[0]:
                    self.compose_files[s.name] = (None, ())  # changed and not listed (it failed): again next round
                v = judge_compose(s.check, out.output, out.rc, self.compose_files[s.name][1])
            elif isinstance(s.check, LogCheck):
                log = self._log(s)
                v = log.verdict(s.check, log.read(parse_log(out.output, out.rc)))
            else:
                v = judge(s.check, out.output, out.rc)
            parts = self._results(s, v)
            if s.name in usage:  # the service's own CPU and memory ride on its result (not on its parts)
                parts[0] = dataclasses.replace(parts[0], usage=usage[s.name],
                                               usage_history=tuple(self.usage.history[s.name]))
            results.extend(parts)
        return "ok", "", "", load, results

    def _snippet(self, svc: ServiceSpec) -> str:
        if isinstance(svc.check, LogCheck):  # reads from where the last round stopped
            return log_snippet(svc.check, self._log(svc).cursor)
        if isinstance(svc.check, ComposeCheck):  # lists the file's services only when it changed
            return compose_snippet(svc.check, self.compose_files.get(svc.name, (None, ()))[0])
        return check_snippet(svc.check, svc.timeout or self.config.ssh.command_timeout, self.spec.login_shell)

    def _log(self, svc: ServiceSpec) -> LogState:
        """The service's log state; a new one (a reload changed ``since``) starts where that mode says."""
        assert isinstance(svc.check, LogCheck)
        log = self.logs.get(svc.name)
        if log is None or log.since != svc.check.since:
            log = self.logs[svc.name] = LogState.for_check(svc.check, self.log_baseline, svc.name)
        return log

    def mark_logs(self, label: str) -> None:
        """From now on log checks with ``since = "step"`` count from here (a step starts); shown at once."""
        marked = {}
        for svc in self.services:
            log = self.logs.get(svc.name)
            if isinstance(svc.check, LogCheck) and svc.check.since == "step" and log is not None:
                log.set_mark(label)
                marked[svc.name] = self._result(svc, log.verdict(svc.check), None)
        self._show_marked(marked)

    def mark_baseline(self, at: float) -> dict[str, str]:
        """A baseline is taken: ``since = "baseline"`` checks count from here; every log check's cursor, to record."""
        names = {svc.name for svc in self.services if isinstance(svc.check, LogCheck)}
        cursors = {name: log.cursor for name, log in self.logs.items()
                   if name in names and log.cursor is not None and log.current}
        self.log_baseline = (cursors, at)
        marked = {}
        for svc in self.services:
            if isinstance(svc.check, LogCheck) and svc.check.since == "baseline":
                log = self._log(svc)
                if svc.name in cursors:
                    log.set_mark("the baseline", at)
                else:  # not read yet, or its last read failed: no starting point to record, and it says so
                    log = self.logs[svc.name] = LogState.for_check(svc.check, self.log_baseline, svc.name)
                marked[svc.name] = self._result(svc, log.verdict(svc.check), None)
        self._show_marked(marked)
        return cursors

    def _show_marked(self, marked: dict[str, CheckResult]) -> None:
        if marked:
            results = tuple(dataclasses.replace(marked[r.service], since=r.since) if r.service in marked else r
                            for r in self.state.results)
            self.state = dataclasses.replace(self.state, results=results)

    def _usage(self, services: list[ServiceSpec], output: str, load: Load | None) -> dict[str, Usage]:
        """Each service's CPU and memory from the round's resources section (checks/resources.py)."""
        passes = parse_passes(output, self.usage.clock)
        ids = {s.name: f"s{i}" for i, s in enumerate(services) if locator(s.check) is not None}
        ncpu = (load.ncpu if load is not None else None) or self.tracker.ncpu
        missing = {s.name: _no_reading(s, passes[-1].missing) for s in services if s.name in ids}
        if len(passes) > 1:
            self.usage.read(passes[0], ids, ncpu, time.time(), missing, keep=False)
        self.usage.rounds += 1
        got = self.usage.read(passes[-1], ids, ncpu, time.time(), missing)
        return {name: dataclasses.replace(u, note=self._text(u.note)) if u.note else u for name, u in got.items()}

    async def _network(self, svc: ServiceSpec) -> CheckResult:
        """HTTP/TCP from the cockpit, or through the ``via`` host's SSH connection.

        Judged against the lateness of the loop that ran the probe (checks/probing.py): a probe that
        failed at its deadline while that loop was late is ``unknown`` (cockpit overloaded), never
        ``down``, since the answer may have been waiting unread; a latency timed while it was late
        is not counted.
        """
        began = time.monotonic()
        v, latency, late, timed_late = await self._probe(svc)
        blame = blame_for(late)
        if v.status == "down" and time.monotonic() - began >= self._probe_deadline(svc) * 0.9 and blame:
            return self._result(svc, Verdict("unknown", f"{blame} ({v.detail})"), None)
        v, latency = trust_timing(v, latency, timed_late)
        return self._result(svc, v, latency)

    def _probe_deadline(self, svc: ServiceSpec) -> float:
        return svc.timeout or min(NETWORK_CHECK_DEADLINE, self.config.ssh.command_timeout)

    async def _probe(self, svc: ServiceSpec) -> Probed:
        """The verdict, the latency and how late the probing loop ran meanwhile (checks/probing.py)."""
        check = svc.check
        deadline = self._probe_deadline(svc)
        via = getattr(check, "via", None)
        address = self.transport.hostname if isinstance(self.transport, SshTransport) else self.spec.address
        if isinstance(check, (HttpCheck, WsCheck)) and "{" in check.url:
            check = dataclasses.replace(check, url=render_target(check.url, self.spec.name, address, url=True))
        elif isinstance(check, TcpCheck) and check.host and "{" in check.host:
            check = dataclasses.replace(check, host=render_target(check.host, self.spec.name, address, url=False))
        vt = self.transports(via) if via else None
        if not isinstance(vt, SshTransport) and self.probes is not None:
            if isinstance(check, HttpCheck):
                return await self.probes.http(check, deadline)
            if isinstance(check, TcpCheck):
                return await self.probes.tcp(check, address, deadline)
            if isinstance(check, WsCheck):
                return await self.probes.ws(check, deadline)
            if isinstance(check, DnsCheck):
                return await self.probes.dns(check, deadline)
            raise TypeError(check.kind)
        began, queued = time.monotonic(), run_delay()
        try:
            if isinstance(check, HttpCheck):
                forward = vt.local_forward if isinstance(vt, SshTransport) else None
                v, latency = await self.prober.probe(check, deadline, forward)
            elif isinstance(check, TcpCheck):
                opener = None
                if isinstance(vt, SshTransport):
                    opener = lambda h, p, vt=vt: vt.open_tcp(h, p, deadline)  # noqa: E731
                v, latency = await probe_tcp(check, address, deadline, opener)
            elif isinstance(check, WsCheck):
                v, latency = await probe_ws(check, deadline)
            elif isinstance(check, DnsCheck):
                v, latency = Verdict(*await probe_dns(check, deadline)), None  # type: ignore[arg-type]
            else:
                raise TypeError(check.kind)
        except TransportError as exc:
            v, latency = Verdict("unknown", f"via {via}: {exc.reason}"), None
        return (v, latency, *lateness(self.lag, began, v, latency, queued))


def _carry_since(new: CheckResult, old: CheckResult | None, stale: bool = False) -> CheckResult:
    """Keep the time of the last status change across rounds; and, while the host does not answer
    (``stale``), its last CPU and memory readings, which the screens then show with their age."""
    if stale and old is not None and new.usage is None and old.usage is not None:
        new = dataclasses.replace(new, usage=old.usage, usage_history=old.usage_history)
    if old is not None and old.status == new.status and old.since:
        return dataclasses.replace(new, since=old.since)
    return dataclasses.replace(new, since=new.at)


def _no_reading(svc: ServiceSpec, missing: tuple[str, ...]) -> str:
    """Why a service got no counters at all, in words an operator can act on."""
    loc = locator(svc.check) or ("",)
    tool = {"unit": "systemctl", "docker": "docker", "compose": "docker", "pm2": "pm2"}.get(loc[0], "")
    if tool and tool in missing:
        return f"{tool} not found on the host"
    return {"unit": "systemctl gave no cgroup for the unit", "docker": "no container by that name",
            "compose": "no container of the compose service", "pm2": "no pm2 app by that name"}.get(
        loc[0], "no reading of its resources")
