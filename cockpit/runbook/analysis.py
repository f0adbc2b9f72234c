"""A gate judged like Argo Rollouts' AnalysisRun: a series of measurements with failure and inconclusive limits.

The run starts when the phase's steps are done. Measurement *i* (from 1) is due at
``start + initial_delay + (i - 1) × interval`` and is evaluated *at that time* (metric() queries carry it
as their ``time=``), so a late gate loop measures the same data, and a test replays ``count``
measurements by moving an injected clock. After each measurement, in Argo's order:

- more failed measurements than ``failure_limit``: the run **fails** (this measurement decided);
- else more inconclusive ones than ``inconclusive_limit``: it is **inconclusive**: the operator decides
  (override the phase with a reason, or retry the analysis), as with a manual gate;
- else ``count`` measurements done: it **passes**.

Each measurement is journaled with its verdict, detail and every series' labels and value; the run's
verdict says which measurement decided it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from cockpit.conditions import SeriesValue, Verdict
from cockpit.spec import AnalysisSpec

__all__ = ["AnalysisRun", "AnalysisView", "MeasurementView", "series_rows"]

RunState = Literal["running", "passed", "failed", "inconclusive"]


@dataclass(frozen=True)
class MeasurementView:
    """One measurement: its number (from 1), scheduled time, verdict, detail and the series it judged."""

    index: int
    at: float
    value: bool | None
    detail: str
    series: tuple[SeriesValue, ...] = ()

    @property
    def word(self) -> str:
        return {True: "pass", False: "FAIL", None: "inconclusive"}[self.value]

    def values(self, limit: int = 3) -> str:
        """The series it judged, ``{labels} = value`` (and why a series was inconclusive)."""
        parts = []
        for v in self.series[:limit]:
            shown = "—" if v.value is None else f"{v.value:.4g}"
            parts.append(f"{v.series} = {shown}" + (f" ({v.why})" if v.why else ""))
        more = f" and {len(self.series) - limit} more" if len(self.series) > limit else ""
        return ", ".join(parts) + more if parts else self.detail

    def line(self) -> str:
        """``#3  20:14:05  FAIL  {version="v2"} = 0.0023``: one row of the plan and the report."""
        return f"#{self.index}  {time.strftime('%H:%M:%S', time.localtime(self.at))}  {self.word}  {self.values()}"

    def as_json(self) -> dict[str, object]:
        return {"index": self.index, "at": self.at, "ok": self.value, "detail": self.detail,
                "series": [{"series": v.series, "value": v.value, "ok": v.outcome, "why": v.why}
                           for v in self.series]}


@dataclass(frozen=True)
class AnalysisView:
    """A phase's analysis run as the screens, ``cockpit plan`` and the report show it."""

    spec: AnalysisSpec
    started: float
    state: RunState
    measurements: tuple[MeasurementView, ...]
    decided_by: int | None = None  # the measurement that decided a finished run
    next_at: float | None = None

    @property
    def failed(self) -> int:
        return sum(1 for m in self.measurements if m.value is False)

    @property
    def inconclusive(self) -> int:
        return sum(1 for m in self.measurements if m.value is None)

    def summary(self, now: float | None = None) -> str:
        """One line: how far the run is, its tallies against the limits, and what decided it."""
        s = self.spec
        tally = (f"{len(self.measurements)} of {s.count} measurements, {self.failed} failed (limit "
                 f"{s.failure_limit}), {self.inconclusive} inconclusive (limit {s.inconclusive_limit})")
        if self.state == "running":
            when = ""
            if self.next_at is not None:
                left = max(0.0, self.next_at - (time.time() if now is None else now))
                when = f"; next in {left:.0f} s"
            return f"analysis running: {tally}{when}"
        decided = f"; decided by measurement {self.decided_by}" if self.decided_by else ""
        word = {"passed": "analysis passed", "failed": "analysis FAILED",
                "inconclusive": "analysis inconclusive (the operator decides: override the phase or retry)"}
        return f"{word[self.state]}: {tally}{decided}"


def series_rows(m: MeasurementView) -> list[dict[str, object]]:
    """The journal's form of a measurement's series: labels text, value, outcome, why."""
    return list(m.as_json()["series"])  # type: ignore[call-overload]


class AnalysisRun:
    """One run of a phase's analysis: which measurement is due, and the verdict after each."""

    def __init__(self, spec: AnalysisSpec, started: float,
                 measurements: tuple[MeasurementView, ...] = ()) -> None:
        self.spec = spec
        self.started = started
        self.measurements: list[MeasurementView] = []
        self.state: RunState = "running"
        self.decided_by: int | None = None
        for m in measurements:  # a run restored from the journal
            self._add(m)

    def due_at(self, index: int) -> float:
        return self.started + self.spec.initial_delay + (index - 1) * self.spec.interval

    def due(self, now: float) -> float | None:
        """The scheduled time of the next measurement when it is due by ``now``; None otherwise."""
        if self.state != "running":
            return None
        at = self.due_at(len(self.measurements) + 1)
        return at if now >= at else None

    def record(self, at: float, verdict: Verdict) -> MeasurementView:
        m = MeasurementView(len(self.measurements) + 1, at, verdict.value, verdict.detail, verdict.series)
        self._add(m)
        return m

    def _add(self, m: MeasurementView) -> None:
        if self.state != "running":
            return
        self.measurements.append(m)
        failed = sum(1 for x in self.measurements if x.value is False)
        unsure = sum(1 for x in self.measurements if x.value is None)
        if failed > self.spec.failure_limit:
            self.state = "failed"
        elif unsure > self.spec.inconclusive_limit:
            self.state = "inconclusive"
        elif len(self.measurements) >= self.spec.count:
            self.state = "passed"
        if self.state != "running":
            self.decided_by = m.index

    def view(self) -> AnalysisView:
        next_at = self.due_at(len(self.measurements) + 1) if self.state == "running" else None
        return AnalysisView(self.spec, self.started, self.state, tuple(self.measurements), self.decided_by, next_at)

    def verdict(self, now: float | None = None) -> Verdict:
        """The gate's verdict: True only when the run passed; False when it failed; None otherwise."""
        view = self.view()
        value = {"passed": True, "failed": False}.get(self.state)
        detail = view.summary(now)
        if self.decided_by is not None:
            decider = self.measurements[self.decided_by - 1]
            detail += f" ({decider.detail})"
        elif self.measurements:
            detail += f"; last: {self.measurements[-1].detail}"
        return Verdict(value, detail)
