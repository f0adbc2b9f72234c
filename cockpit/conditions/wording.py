"""What every verdict is made of: the three values, the comparison operators and the wording of a detail.

Shared by the evaluator and the resource functions (``conditions.usage``), so each says figures, limits
and hosts the same way.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from cockpit.conditions.terms import Quantity
from cockpit.model import CheckResult
from cockpit.sanitize import strip_control

__all__ = ["OPS", "Outcome", "Verdict", "all_of", "any_of", "extra", "few", "fmt", "group", "last_line", "limit",
           "no_hosts", "short"]

Outcome = Literal[True, False, None]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
SHOWN = 3  # hosts named in a detail before "and N more"


@dataclass(frozen=True)
class SeriesValue:
    """One series a metric() judged: where (its labels, and the host), its value, the outcome and why."""

    series: str
    value: float | None
    outcome: bool | None
    why: str = ""


@dataclass(frozen=True)
class Verdict:
    value: bool | None  # None: inconclusive
    detail: str  # one line an operator can act on
    #: the metric() series behind the verdict (journaled with each analysis measurement)
    series: tuple[SeriesValue, ...] = ()


def all_of(values: Iterable[Outcome]) -> Outcome:
    """Kleene AND: False wins, then None."""
    vals = list(values)
    return False if False in vals else None if None in vals else True


def any_of(values: Iterable[Outcome]) -> Outcome:
    """Kleene OR: True wins, then None."""
    vals = list(values)
    return True if True in vals else None if None in vals else False


# --------------------------------------------------------------------------- formatting

def few(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown if len(items) <= SHOWN else f"{shown} and {len(items) - SHOWN} more"


def short(text: str, limit: int = 60) -> str:
    text = " ".join(strip_control(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def last_line(out: str) -> str:
    lines = [ln for ln in strip_control(out).splitlines() if ln.strip()]
    return short(lines[-1]) if lines else ""


def fmt(kind: str, v: float) -> str:
    if kind == "duration":
        return f"{v * 1000:.3g} ms" if abs(v) < 1 else f"{v:.3g} s"
    if kind == "percent":
        return f"{v:.3g}%"
    if kind == "size":
        for unit, factor in (("GB", 1024.0**3), ("MB", 1024.0**2)):
            if abs(v) >= factor:
                return f"{v / factor:.4g} {unit}"
        return f"{v / 1024:.4g} KB"
    if isinstance(v, int):
        return str(v)
    return str(int(v)) if v.is_integer() else f"{v:.10g}"


def limit(op: str, q: Quantity, kind: str) -> str:
    return f"limit {op} {fmt(kind, q.value)}"


def group(rows: Sequence[tuple[str, Outcome, str]], value: Outcome) -> str:
    """Notes of the rows with that outcome, same notes merged: "down on a, b; c unreachable"."""
    by_note: dict[str, list[str]] = {}
    for host, outcome, note in rows:
        if outcome is value:
            by_note.setdefault(note, []).append(host)
    groups = [note.replace("{hosts}", few(hosts)) for note, hosts in by_note.items()]
    if len(groups) > SHOWN + 1:  # per-host figures all differ: keep the line short
        groups = [*groups[:SHOWN], f"{len(groups) - SHOWN} more"]
    return "; ".join(groups)


def extra(r: CheckResult | None, key: str) -> float | None:
    """A numeric extra of a result (it may have travelled as a string), or None."""
    raw = r.get(key) if r is not None else None
    try:
        num = float(raw) if raw is not None and not isinstance(raw, bool) else math.nan
    except ValueError:
        num = math.nan
    return num if math.isfinite(num) else None


def no_hosts(label: str, what: str) -> Verdict:
    return Verdict(None, f"{label}: inconclusive, {what}")


