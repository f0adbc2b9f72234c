"""The cockpit's own view as a Prometheus exposition: ``cockpit serve-metrics`` and ``--metrics-listen``.

What is exported is what the cockpit shows, read at scrape time from the session (the last snapshot,
the plan view), in the event loop that owns them: no thread reads engine state. Names follow
Prometheus conventions and are listed in docs/metrics.md. Something the cockpit does not know is left
out rather than exported as a guess (a service whose state is unknown has no ``cockpit_service_up``).

Where it listens follows :mod:`cockpit.listen`: loopback by default; any other address needs a
bearer token from ``--token-env NAME`` or ``--token-file FILE`` (never the command line), checked
on every request.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from cockpit.cli.common import config_path, operator_name
from cockpit.config import load_config
from cockpit.errors import UsageError
from cockpit.listen import authorized, load_token, parse_listen, require_token
from cockpit.sanitize import strip_control
from cockpit.session import Session
from cockpit.shutdown import SignalStop, run_until_signal

DEFAULT_PORT = 9477  # also in cockpit.cli.dispatch's --help (this module loads prometheus-client: imported late)
STATUSES = ("up", "degraded", "down", "unknown")


def _g(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class CockpitCollector:
    """Reads the session at scrape time; every label value is stripped of control characters."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        s = self.session
        snap = s.engine.snapshot()
        up = _g("cockpit_service_up", "1 when the service's check says up, 0 when down or degraded "
                "(absent while unknown)", ["host", "service", "kind"])
        status = _g("cockpit_service_status", "1 for the service's current status (up, degraded, down, unknown)",
                    ["host", "service", "status"])
        ok = _g("cockpit_service_as_expected", "1 when the service is as its lifecycle expects now (a retired "
                "service down counts), 0 when not", ["host", "service", "expect"])
        lat = _g("cockpit_service_latency_seconds", "the last measured latency of the service's check",
                 ["host", "service"])
        reach = _g("cockpit_host_reachable", "1 when the cockpit reaches the host, 0 otherwise", ["host", "reach"])
        for h in snap.hosts:
            host = strip_control(h.name)
            reach.add_metric([host, h.reach], 1.0 if h.reachable else 0.0)
            for r in h.results:
                svc = strip_control(r.service)
                for st in STATUSES:
                    status.add_metric([host, svc, st], 1.0 if r.status == st else 0.0)
                if r.status != "unknown":
                    up.add_metric([host, svc, r.kind], 1.0 if r.status == "up" else 0.0)
                if r.judged != "unknown":
                    ok.add_metric([host, svc, r.expect], 0.0 if r.judged == "down" else 1.0)
                if r.latency is not None and math.isfinite(r.latency):
                    lat.add_metric([host, svc], r.latency)
        yield from (up, status, ok, lat, reach)
        yield from self._runbook()

    def _runbook(self) -> Iterator[Metric]:
        s = self.session
        view = s.runbook.view()
        regs = _g("cockpit_regression", "1 per service regressed against the baseline (down or slower)",
                  ["host", "service", "kind"])
        for r in s.runbook.regressions():
            regs.add_metric([strip_control(r.host), strip_control(r.service), r.kind], 1.0)
        yield regs
        phase = _g("cockpit_phase_state", "1 for each phase's current state", ["phase", "state"])
        current = _g("cockpit_phase_current", "1 for the phase in progress (none once the plan is done)", ["phase"])
        step = _g("cockpit_step_state", "1 for each step's current state", ["step", "state"])
        gate = _g("cockpit_gate_holds", "the current judgment of each judged phase gate: 1 holds, 0 fails "
                  "(absent while inconclusive; cockpit_gate_inconclusive says so)", ["phase"])
        unsure = _g("cockpit_gate_inconclusive", "1 when the phase's gate could not be judged", ["phase"])
        hold = _g("cockpit_gate_hold_remaining_seconds", "how long the gate must still hold", ["phase"])
        for p in view.phases:
            phase.add_metric([p.id, p.state], 1.0)
            if p.id == view.current:
                current.add_metric([p.id], 1.0)
            for st in p.steps:
                step.add_metric([st.ref, st.state], 1.0)
            if p.gate is not None:
                unsure.add_metric([p.id], 1.0 if p.gate.value is None else 0.0)
                if p.gate.value is not None:
                    gate.add_metric([p.id], 1.0 if p.gate.value else 0.0)
            left = p.hold_left
            if left is not None:
                hold.add_metric([p.id], left)
        yield from (phase, current, step, gate, unsure, hold)
        yield from self._analysis(view)
        yield from self._rollback_and_lease(view)

    def _analysis(self, view: Any) -> Iterator[Metric]:
        """Each phase's analysis run (the gate's measurements): its state, its counts, the latest figures."""
        state = _g("cockpit_analysis_state", "1 for the state of the phase's analysis run (running, passed, failed, "
                   "inconclusive)", ["phase", "state"])
        counts = _g("cockpit_analysis_measurements", "measurements of the phase's analysis run so far, by result",
                    ["phase", "result"])
        last = _g("cockpit_analysis_last_value", "the latest measurement's value per series (absent when the "
                  "series had no finite value: inconclusive)", ["phase", "series"])
        for p in view.phases:
            a = p.analysis
            if a is None:
                continue
            state.add_metric([p.id, a.state], 1.0)
            for word, value in (("pass", True), ("fail", False), ("inconclusive", None)):
                counts.add_metric([p.id, word], float(sum(1 for m in a.measurements if m.value is value)))
            if a.measurements:
                for sv in a.measurements[-1].series:
                    if sv.value is not None and math.isfinite(sv.value):
                        last.add_metric([p.id, strip_control(sv.series)], sv.value)
        yield from (state, counts, last)

    def _rollback_and_lease(self, view: Any) -> Iterator[Metric]:
        rb = view.rollback
        running = _g("cockpit_rollback_running", "1 while a rollback runs", [])
        state = _g("cockpit_rollback_ok", "the last rollback: 1 rolled back, 0 ROLLBACK FAILED (absent before any, "
                   "or while it runs)", ["rollback"])
        took = _g("cockpit_rollback_duration_seconds", "how long the last rollback took (so far, while it runs)",
                  ["rollback"])
        budget = _g("cockpit_rollback_budget_seconds", "the last rollback's time budget", ["rollback"])
        running.add_metric([], 1.0 if rb is not None and rb.running else 0.0)
        if rb is not None:
            name = strip_control(rb.name)
            if rb.ok is not None:
                state.add_metric([name], 1.0 if rb.ok else 0.0)
            took.add_metric([name], rb.duration if rb.duration is not None else max(0.0, time.time() - rb.started))
            budget.add_metric([name], rb.budget)
        yield from (running, state, took, budget)
        lease = InfoMetricFamily("cockpit_lease", "who holds the driver's lease, as this cockpit sees it",
                                 labels=["role"])
        lease.add_metric(["observer" if view.observer else "driver"],
                         {"holder": strip_control(view.driver) or "none"})
        yield lease


def registry_for(session: Any) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(CockpitCollector(session))  # type: ignore[arg-type]
    return reg


class MetricsServer:
    """A small HTTP/1.1 server in the session's own event loop: GET /metrics, bearer token when set."""

    def __init__(self, session: Any, host: str, port: int, token: str | None) -> None:
        self.registry = registry_for(session)
        self.host, self.port, self.token = host, port, token
        self._sock: socket.socket | None = None
        self._server: asyncio.Server | None = None

    def bind(self) -> None:
        """Bind now, before any terminal or loop starts: a taken port is a usage error (exit 2), not a crash."""
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(64)
        except OSError as exc:
            raise UsageError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}",
                             "choose another --listen address or port") from None
        sock.setblocking(False)
        self._sock = sock
        self.port = int(sock.getsockname()[1])

    async def start(self) -> None:
        if self._sock is None:
            self.bind()
        self._server = await asyncio.start_server(self._handle, sock=self._sock)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):  # a client that never sends its request holds nothing
                head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, *_ = (lines[0].split(" ") + ["", ""])[:3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            if not authorized(headers.get("authorization"), self.token):
                status, ctype, body = "401 Unauthorized", "text/plain", b"a bearer token is required\n"
            elif method not in ("GET", "HEAD") or path.split("?", 1)[0] != "/metrics":
                status, ctype, body = "404 Not Found", "text/plain", b"see /metrics\n"
            else:
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
            extra = 'WWW-Authenticate: Bearer realm="cockpit"\r\n' if status.startswith("401") else ""
            writer.write((f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                          f"{extra}Connection: close\r\n\r\n").encode() + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


def server_for(session: Any, listen: str | None, token_env: str | None, token_file: str | None) -> MetricsServer:
    """Validated and bound before anything starts: a bad address, a missing token or a taken port exit 2."""
    host, port = parse_listen(listen or f"127.0.0.1:{DEFAULT_PORT}", DEFAULT_PORT)
    token = load_token(token_env, token_file)
    require_token(host, token)
    server = MetricsServer(session, host, port, token)
    server.bind()
    return server


def cmd_serve_metrics(args: argparse.Namespace) -> int:
    """Headless: a read-only session polling the fleet and following the journal, exported until a signal."""
    config = load_config(config_path(args))
    session = Session(config, operator_name(None), drive=False, read_only=True)
    server = server_for(session, args.listen, args.token_env, args.token_file)

    async def run(stop: SignalStop) -> int:
        stop.session = session
        session.servers.append(server)
        try:
            await session.start()
            where = f"[{server.host}]" if ":" in server.host else server.host
            print(f"cockpit: serving http://{where}:{server.port}/metrics"
                  + (" (bearer token required)" if server.token else ""), file=sys.stderr, flush=True)
            await asyncio.Event().wait()  # until a signal cancels this task
            return 0
        finally:
            await session.close()

    return run_until_signal(run)
