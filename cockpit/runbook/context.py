"""The engine as seen by conditions: latest results, windows, load, commands, regressions.

A context can be narrowed to hosts (a step's per-host checklist) and to results
newer than a moment (verify is judged only on checks made after the command ended).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from cockpit.engine import Engine
from cockpit.history import Sample
from cockpit.inventory import select
from cockpit.metrics import PrometheusClient
from cockpit.model import CheckResult, HostState
from cockpit.spec import MetricsSourceSpec

#: how long a command run by a condition may take on a host
CONDITION_COMMAND_TIMEOUT = 30.0


class EngineContext:
    """Implements :class:`cockpit.conditions.EvalContext` over a live engine."""

    def __init__(self, engine: Engine, *, only: set[str] | None = None, after: float | None = None,
                 default_hosts: list[str] | None = None, regressions: Callable[[], list[str]] | None = None,
                 undecided: Callable[[], list[str]] | None = None, phase: str | None = None,
                 step: str | None = None, at: float | None = None) -> None:
        self.engine = engine
        self.phase, self.step = phase, step
        self.at = at  # metric() queries are evaluated then (an analysis measurement's time); None: now
        self.only = only
        self.after = after
        self.default_hosts = default_hosts
        self._regressions = regressions or (lambda: [])
        self._undecided = undecided or (lambda: [])
        rb = engine.config.runbook
        self.min_samples = rb.min_samples
        self.window_seconds = rb.window

    def _state(self, host: str) -> HostState | None:
        poller = self.engine.pollers.get(host)
        return poller.state if poller is not None else None

    def _narrow(self, hosts: list[str]) -> list[str]:
        return [h for h in hosts if self.only is None or h in self.only]

    def hosts_for(self, service: str, selector: str | None) -> list[str]:
        config = self.engine.config
        service = service.partition("/")[0]  # a compose container is checked where its project is
        hosts = [h for h, names in config.assignments if service in names]
        if selector:
            wanted = {h.name for h in select(config.hosts, selector)}
            hosts = [h for h in hosts if h in wanted]
        return self._narrow(hosts)

    def latest(self, service: str, host: str) -> CheckResult | None:
        st = self._state(host)
        if st is None:
            return None
        for r in st.results:
            if r.service == service:
                if self.after is not None and r.at < self.after:
                    return None  # made before the command ended: not evidence
                return r
        parent, _, part = service.partition("/")
        top = self.latest(parent, host) if part else None
        if top is not None and top.kind == "compose" and top.status != "unknown":
            # the project was listed and holds no container of that service: it is not there, said so
            return dataclasses.replace(top, service=service, status="down", extra=(),
                                       detail=f"no container of service {part} in the project")
        return None

    def reachable(self, host: str) -> bool | None:
        st = self._state(host)
        if st is None or st.reach in ("unknown", "connecting"):
            return None
        return st.reach == "ok"

    def window(self, service: str, hosts: list[str]) -> list[Sample]:
        return self.engine.history.window(service, hosts, self.window_seconds)

    def load(self, selector: str) -> list[HostState]:
        names = self._narrow([h.name for h in select(self.engine.config.hosts, selector)])
        return [s for h in names if (s := self._state(h)) is not None]

    def is_service(self, name: str) -> bool:
        return any(s.name == name for s in self.engine.config.services)

    def command_hosts(self, selector: str | None) -> list[str]:
        if selector:
            return self._narrow([h.name for h in select(self.engine.config.hosts, selector)])
        if self.default_hosts is not None:
            return self._narrow(self.default_hosts)
        return self._narrow([h.name for h in self.engine.config.hosts])

    async def run(self, command: str, host: str) -> tuple[int | None, str]:
        from cockpit.errors import TransportError

        try:
            res = await self.engine.run_command(host, command, timeout=CONDITION_COMMAND_TIMEOUT, max_output=65536)
        except TransportError:
            return None, ""
        if res.timed_out:
            return None, res.stdout
        return res.exit_status, self.engine.redactor.redact(res.stdout)

    def regressions(self) -> list[str]:
        return self._regressions()

    def undecided(self) -> list[str]:
        """Latency series the regression rule could not judge yet (read after :meth:`regressions`)."""
        return self._undecided()

    def now(self) -> float:
        return time.time()

    # -- metric() -------------------------------------------------------------------------------

    def metrics_source(self, name: str | None) -> MetricsSourceSpec | None:
        sources = self.engine.config.metrics
        if name is None:
            return sources[0] if sources else None
        return next((s for s in sources if s.name == name), None)

    def metric_client(self, source: MetricsSourceSpec) -> PrometheusClient:
        return PrometheusClient(source, self.engine.redactor)

    def regression_rule(self) -> tuple[float, float, int]:
        """compare()'s rule: the gate's window, and the probes' effect factor and minimum samples."""
        rb = self.engine.config.runbook
        return rb.window, rb.latency_factor, rb.min_samples

    def eval_time(self) -> float:
        return time.time() if self.at is None else self.at

    def placeholder_values(self, host: str | None) -> dict[str, str]:
        out = {k: v for k, v in (("phase", self.phase), ("step", self.step)) if v is not None}
        if host is not None:
            out["host"] = host
            out["address"] = self.engine.config.host(host).address
        return out
