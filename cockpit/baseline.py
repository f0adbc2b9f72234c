"""Baselines and regressions: what was up (and how fast) before the change, and what got worse since.

A service up in the baseline and now down for ``regression_rounds`` consecutive
rounds is a regression (one lost probe raises no banner). A latency regression is a
sustained, significant shift (:func:`latency_shift`): the baseline keeps a window of latency
samples, and the current window must be slower by a one-sided Mann-Whitney U test at
``ALPHA``, by ``latency_factor`` times the baseline's median and by ``MIN_SLOWDOWN`` at least,
with ``[runbook] min_samples`` (20) on each side; with fewer samples the series is *inconclusive*, never
silently fine. (Kayenta, the canary judge of Spinnaker and Argo Rollouts, uses the same test.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cockpit.history import History
from cockpit.model import FleetSnapshot, HostState
from cockpit.spec import Config

#: a median must also have grown by this much (seconds) to be a regression: 3 ms -> 6 ms is "2x" but
#: noise (a loaded machine, one slow connect), and a cutover must not roll back on noise
MIN_SLOWDOWN = 0.020
#: the test's one-sided significance level, and the samples it needs on each side
ALPHA = 0.01
RULE_MIN_SAMPLES = 20
#: latency samples a baseline keeps per host and service (the newest of its window)
BASELINE_SAMPLES = 120


def mann_whitney_greater(base: Sequence[float], current: Sequence[float]) -> float:
    """One-sided p-value that ``current`` is stochastically greater than ``base``.

    Mann-Whitney U with mid-ranks for ties, the tie-corrected variance and a continuity
    correction; the normal approximation is sound from about 8 samples a side and we ask 20.
    Written here (30 lines, tested against the exact distribution) rather than pulling in SciPy.
    """
    n1, n2 = len(current), len(base)
    if not n1 or not n2:
        return 1.0
    pooled = sorted([(v, 0) for v in current] + [(v, 1) for v in base])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = mid
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, side) in zip(ranks, pooled) if side == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0  # every value equal: no shift at all
    z = (u1 - n1 * n2 / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True)
class Shift:
    """The rule's answer for one series: ``regression``, ``fine`` or ``inconclusive``, and why."""

    verdict: Literal["regression", "fine", "inconclusive"]
    detail: str
    p: float | None = None
    medians: tuple[float, float] | None = None  # (current, base) once judged: compare() words its own detail


def latency_shift(base: Sequence[float], current: Sequence[float], *, factor: float = 1.5,
                  min_delta: float = MIN_SLOWDOWN, min_samples: int = RULE_MIN_SAMPLES,
                  alpha: float = ALPHA) -> Shift:
    """Is ``current`` (seconds) a latency regression against ``base``? A pure function, reused for canaries.

    All three must hold: the medians differ by ``factor`` and by ``min_delta``, and the Mann-Whitney
    test says the current window is slower at ``alpha``. A short burst in a long window moves the
    medians too little; a small steady shift on a fast endpoint is under ``min_delta``.
    """
    nb, nc = len(base), len(current)
    if nb < min_samples or nc < min_samples:
        return Shift("inconclusive", f"inconclusive: {min(nb, nc)} of {min_samples} samples"
                                     + (" in the baseline" if nb < min_samples else " now"))
    mb, mc = median(base), median(current)
    p = mann_whitney_greater(base, current)
    words = (f"median {mc * 1000:.0f} ms vs {mb * 1000:.0f} ms in the baseline "
             f"(p = {p:.2g}, {nc} vs {nb} samples)")
    if mc >= factor * mb and mc - mb >= min_delta and p < alpha:
        return Shift("regression", f"{words}: > {factor:g}x and +{min_delta * 1000:.0f} ms", p, (mc, mb))
    return Shift("fine", words, p, (mc, mb))


def p95(latencies: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def capture(snap: FleetSnapshot, history: History, window: float) -> dict[str, Any]:
    """A JSON-able baseline: per host and service, status, detail, the window's p95 and latency samples."""
    hosts: dict[str, Any] = {}
    for h in snap.hosts:
        services = {}
        for r in h.results:
            lat = [x.latency for x in history.window(r.service, [h.name], window) if x.latency is not None]
            services[r.service] = {"status": r.status, "detail": r.detail, "p95": p95(lat),
                                   "latency": r.latency,
                                   "samples": [round(v, 6) for v in lat[-BASELINE_SAMPLES:]]}
        hosts[h.name] = {"reach": h.reach, "services": services}
    return {"at": snap.at, "hosts": hosts}


@dataclass(frozen=True)
class Regression:
    host: str
    service: str
    kind: str  # "down" | "slow"
    detail: str
    critical: bool = True  # a non-critical service's regression is a warning: it never fails a gate or check

    def line(self) -> str:
        return f"{self.host} {self.service}: {self.detail}"


class RegressionTracker:
    """Fed every host round; knows the current regressions against the active baseline."""

    def __init__(self, config: Config, history: History) -> None:
        self.config = config
        self.history = history
        self.baseline: dict[str, Any] | None = None
        self._down_rounds: dict[tuple[str, str], int] = {}
        self._undecided: list[tuple[str, str, str]] = []  # (host, service, why) of the last current()
        self.non_critical: list[Regression] = []  # non-critical services' regressions of the last current()
        self._unreachable: set[str] = set()  # hosts whose services are unknown now (the host is the failure)
        self._planned: dict[tuple[str, str], str] = {}  # lifecycle services not expected up now -> why

    def set_baseline(self, baseline: dict[str, Any] | None) -> None:
        self.baseline = baseline
        self._down_rounds.clear()

    def observe(self, state: HostState) -> None:
        if self.baseline is None:
            return
        base = self.baseline["hosts"].get(state.name, {}).get("services", {})
        now = {r.service: r for r in state.results}
        if state.reach != "ok":  # its services are unknown, not down: no count grows, none resets
            self._unreachable.add(state.name)
            return
        self._unreachable.discard(state.name)
        for svc, b in base.items():
            if b.get("status") != "up":
                continue
            r = now.get(svc)
            key = (state.name, svc)
            if r is not None and r.expect != "up":  # retired, not introduced yet, or in transition: planned
                self._planned[key] = r.expect_why
                self._down_rounds[key] = 0
                continue
            self._planned.pop(key, None)
            if r is None and svc not in {s.name for s in self.config.services_on(state.name)}:
                self._down_rounds.pop(key, None)  # no longer checked there (a reload removed it): not "down"
                continue
            bad = r is None or r.status == "down"
            self._down_rounds[key] = self._down_rounds.get(key, 0) + 1 if bad else 0

    def undecided(self) -> list[str]:
        """Latency series the last :meth:`current` could not judge, each with why (too few samples)."""
        return [f"{host} {svc}: {why}" for host, svc, why in self._undecided]

    def minor(self) -> list[str]:
        """Regressions of non-critical services found by the last :meth:`current`: warnings, never failures."""
        return [r.line() + " (non-critical)" for r in self.non_critical]

    def current(self, now: float | None = None) -> list[Regression]:
        """Regressions of critical services on reachable hosts; lifecycle services follow their expectation."""
        every = self._judge(now)
        self.non_critical = [r for r in every if not r.critical]
        return [r for r in every if r.critical]

    def _critical(self, svc: str) -> bool:
        return next((s.critical for s in self.config.services if s.name == svc), True)

    def _judge(self, now: float | None) -> list[Regression]:
        self._undecided = []
        if self.baseline is None:
            return []
        rb = self.config.runbook
        out: list[Regression] = []
        fleet = {h.name for h in self.config.hosts}
        for host, hb in self.baseline["hosts"].items():
            if host in self._unreachable or host not in fleet:  # not polled any more (a reload removed it)
                continue
            for svc, b in hb.get("services", {}).items():
                if b.get("status") != "up" or (host, svc) in self._planned:
                    continue
                crit = self._critical(svc)
                n = self._down_rounds.get((host, svc), 0)
                if n >= rb.regression_rounds:
                    out.append(Regression(host, svc, "down", f"up in the baseline, down for {n} rounds", crit))
                    continue
                if b.get("p95") is None:
                    continue  # no latency at the baseline (not an http/tcp check, or never answered)
                if "samples" not in b:
                    self._undecided.append((host, svc, "inconclusive: the baseline has no latency samples "
                                                       "(recorded by an older cockpit): record a new one"))
                    continue
                window = self.history.window(svc, [host], rb.window, now)
                lat = [x.latency for x in window if x.latency is not None]
                shift = latency_shift(b["samples"], lat, factor=rb.latency_factor, min_samples=rb.min_samples)
                if shift.verdict == "regression":
                    out.append(Regression(host, svc, "slow", shift.detail, crit))
                elif shift.verdict == "inconclusive":
                    self._undecided.append((host, svc, shift.detail))
        return out


def diff_rows(baseline: dict[str, Any], snap: FleetSnapshot, history: History, window: float,
              regressions: list[Regression], undecided: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Baseline vs now, per host and service (for `cockpit diff`, the report and the UI).

    ``regression`` is the regression's detail (a non-critical one says so), ``inconclusive: ...`` for a
    series the rule could not judge (``undecided``: :meth:`RegressionTracker.undecided`'s lines), or empty
    when judged fine. ``expected`` is a lifecycle service's expectation now ("" for a plain service): a
    retired service that is down is progress, not a regression.
    """
    flagged = {(r.host, r.service): r for r in regressions}
    unsure = {}
    for line in undecided:
        where, _, why = line.partition(": ")
        unsure[tuple(where.split(" ", 1))] = why
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
            "regression": (flagged[(host, svc)].detail + ("" if flagged[(host, svc)].critical else " (non-critical)")
                           if (host, svc) in flagged else unsure.get((host, svc), "")),
            "expected": "" if r is None or r.expect == "up" else f"{r.expect}: {r.expect_why}",
            "detail": r.detail if r else "",
        })
    return rows


def now() -> float:
    return time.time()
