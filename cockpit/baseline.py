"""Baselines and regressions: what was up (and how fast) before the change, and what got worse since.

A service up in the baseline and now down for ``regression_rounds`` consecutive
rounds is a regression (one lost probe raises no banner); so is a p95 latency
grown beyond ``latency_factor`` times the baseline's and by ``MIN_SLOWDOWN`` at least.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from cockpit.history import History
from cockpit.model import FleetSnapshot, HostState
from cockpit.spec import Config

#: a p95 must also have grown by this much (seconds) to be a regression: 3 ms -> 6 ms is "2x" but
#: noise (a loaded machine, one slow connect), and a cutover must not roll back on noise
MIN_SLOWDOWN = 0.020


def p95(latencies: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def capture(snap: FleetSnapshot, history: History, window: float) -> dict[str, Any]:
    """A JSON-able baseline: per host and service, status, detail and the window's p95 latency."""
    hosts: dict[str, Any] = {}
    for h in snap.hosts:
        services = {}
        for r in h.results:
            lat = [x.latency for x in history.window(r.service, [h.name], window) if x.latency is not None]
            services[r.service] = {"status": r.status, "detail": r.detail, "p95": p95(lat),
                                   "latency": r.latency}
        hosts[h.name] = {"reach": h.reach, "services": services}
    return {"at": snap.at, "hosts": hosts}


@dataclass(frozen=True)
class Regression:
    host: str
    service: str
    kind: str  # "down" | "slow"
    detail: str

    def line(self) -> str:
        return f"{self.host} {self.service}: {self.detail}"


class RegressionTracker:
    """Fed every host round; knows the current regressions against the active baseline."""

    def __init__(self, config: Config, history: History) -> None:
        self.config = config
        self.history = history
        self.baseline: dict[str, Any] | None = None
        self._down_rounds: dict[tuple[str, str], int] = {}

    def set_baseline(self, baseline: dict[str, Any] | None) -> None:
        self.baseline = baseline
        self._down_rounds.clear()

    def observe(self, state: HostState) -> None:
        if self.baseline is None:
            return
        base = self.baseline["hosts"].get(state.name, {}).get("services", {})
        now = {r.service: r for r in state.results}
        for svc, b in base.items():
            if b.get("status") != "up":
                continue
            r = now.get(svc)
            bad = state.reach != "ok" or r is None or r.status == "down"
            key = (state.name, svc)
            self._down_rounds[key] = self._down_rounds.get(key, 0) + 1 if bad else 0

    def current(self, now: float | None = None) -> list[Regression]:
        if self.baseline is None:
            return []
        rb = self.config.runbook
        out: list[Regression] = []
        for host, hb in self.baseline["hosts"].items():
            for svc, b in hb.get("services", {}).items():
                if b.get("status") != "up":
                    continue
                n = self._down_rounds.get((host, svc), 0)
                if n >= rb.regression_rounds:
                    out.append(Regression(host, svc, "down", f"up in the baseline, down for {n} rounds"))
                    continue
                base_p95 = b.get("p95")
                if base_p95:
                    window = self.history.window(svc, [host], rb.window, now)
                    lat = [x.latency for x in window if x.latency is not None]
                    cur = p95(lat)
                    if (cur is not None and len(lat) >= min(rb.min_samples, 5) and cur > rb.latency_factor * base_p95
                            and cur - base_p95 >= MIN_SLOWDOWN):
                        out.append(Regression(host, svc, "slow",
                                              f"p95 {cur * 1000:.0f} ms vs {base_p95 * 1000:.0f} ms in the baseline "
                                              f"(> {rb.latency_factor:g}x)"))
        return out


def diff_rows(baseline: dict[str, Any], snap: FleetSnapshot, history: History, window: float,
              regressions: list[Regression]) -> list[dict[str, Any]]:
    """Baseline vs now, per host and service (for `cockpit diff`, the report and the UI)."""
    flagged = {(r.host, r.service): r for r in regressions}
    rows = []
    current = {h.name: h for h in snap.hosts}
    names: list[tuple[str, str]] = []
    for host, hb in baseline["hosts"].items():
        names += [(host, s) for s in hb.get("services", {})]
    for h in snap.hosts:
        names += [(h.name, r.service) for r in h.results if (h.name, r.service) not in names]
    for host, svc in names:
        b = baseline["hosts"].get(host, {}).get("services", {}).get(svc)
        st = current.get(host)
        r = next((x for x in st.results if x.service == svc), None) if st else None
        lat = [x.latency for x in history.window(svc, [host], window) if x.latency is not None]
        rows.append({
            "host": host, "service": svc,
            "baseline": b["status"] if b else "–", "now": (r.status if r else "–") if st and st.reachable else
            (st.reach if st else "–"),
            "baseline_p95_ms": None if not b or b.get("p95") is None else round(b["p95"] * 1000, 1),
            "now_p95_ms": None if p95(lat) is None else round(p95(lat) * 1000, 1),  # type: ignore[operator]
            "regression": flagged[(host, svc)].detail if (host, svc) in flagged else "",
            "detail": r.detail if r else "",
        })
    return rows


def now() -> float:
    return time.time()
