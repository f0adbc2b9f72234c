"""Three-valued evaluation of conditions against an :class:`EvalContext`.

``None`` means inconclusive (not enough data, a host unreachable): a gate waits
on it and never passes, a verify retries. Each verdict carries one line an
operator can act on, naming the hosts that decided it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Protocol

from cockpit.conditions.metric import SeriesValue, judge_compare, judge_metric
from cockpit.conditions.parser import (
    And,
    Command,
    Compare,
    DiskStat,
    HostStat,
    ServiceUsage,
    Health,
    LoadStat,
    Matches,
    Metric,
    Node,
    NoRegressions,
    Not,
    Or,
    Rss,
    StatusIn,
    ValueCmp,
    ValueOf,
    WindowStat,
    parse,
)
from cockpit.conditions.usage import as_service, judge_disk, judge_host_stat, judge_load_stat_size, judge_service_usage
from cockpit.conditions.wording import OPS as _OPS
from cockpit.conditions.wording import Outcome, Verdict, all_of, any_of
from cockpit.conditions.wording import extra as _extra
from cockpit.conditions.wording import few as _few
from cockpit.conditions.wording import fmt as _fmt
from cockpit.conditions.wording import group as _group
from cockpit.conditions.wording import last_line as _last_line
from cockpit.conditions.wording import limit as _limit
from cockpit.conditions.wording import no_hosts as _no_hosts
from cockpit.conditions.wording import short as _short
from cockpit.errors import CockpitError
from cockpit.history import Sample
from cockpit.metrics import PrometheusClient
from cockpit.model import CheckResult, HostState
from cockpit.sanitize import strip_control
from cockpit.spec import MetricsSourceSpec

__all__ = ["EvalContext", "Outcome", "SeriesValue", "Verdict", "all_of", "any_of", "evaluate", "evaluate_all"]

class EvalContext(Protocol):
    """What a condition may look at; the engine implements it (see ``cockpit.runbook.context``)."""

    min_samples: int  # fewer samples in the window: p95 / error_rate are inconclusive
    window_seconds: float  # the window p95 / error_rate look at (0: not said in a verdict)

    def hosts_for(self, service: str, selector: str | None) -> list[str]:
        """Hosts the service is checked on, narrowed by the selector when one is given."""

    def latest(self, service: str, host: str) -> CheckResult | None:
        """The newest result, or None when none is fresh enough."""

    def reachable(self, host: str) -> bool | None:
        """None: not known yet."""

    def window(self, service: str, hosts: list[str]) -> list[Sample]:
        """Every sample of the service on those hosts within the context's window."""

    def load(self, selector: str) -> list[HostState]:
        """The latest state of each host the selector matches."""

    def is_service(self, name: str) -> bool:
        """Whether a name is a service (``cpu(X)`` then reads the service, not hosts named X)."""

    def command_hosts(self, selector: str | None) -> list[str]:
        """Hosts command() and value() run on, without or with ``@selector``."""

    async def run(self, command: str, host: str) -> tuple[int | None, str]:
        """Exit status (None: could not run) and stdout."""

    def regressions(self) -> list[str]:
        """Current regressions as human lines; [] for none."""

    def undecided(self) -> list[str]:
        """Latency series the regression rule cannot judge yet (read after :meth:`regressions`)."""

    def metrics_source(self, name: str | None) -> MetricsSourceSpec | None:
        """``[metrics.NAME]`` (the first source when ``name`` is None); None when there is no such source."""

    def metric_client(self, source: MetricsSourceSpec) -> PrometheusClient:
        """A client for the source (with the config's redactor), used as ``async with``."""

    def eval_time(self) -> float:
        """The time metric() queries are evaluated at (now, or an analysis measurement's scheduled time)."""

    def placeholder_values(self, host: str | None) -> dict[str, str]:
        """``phase``/``step`` where known, and ``host``/``address`` of ``host`` when one is given."""


async def evaluate(node: Node, ctx: EvalContext) -> Verdict:
    """Judge one parsed condition."""
    if isinstance(node, (And, Or)):
        parts = await asyncio.gather(*(evaluate(c, ctx) for c in node.operands))
        return _combine(parts, and_=isinstance(node, And))
    if isinstance(node, Not):
        inner = await evaluate(node.operand, ctx)
        return Verdict(None if inner.value is None else not inner.value, f"not [{inner.detail}]", inner.series)
    if isinstance(node, NoRegressions):
        regs = ctx.regressions()
        if regs:
            return Verdict(False, f"{len(regs)} regression(s): {_few(regs)}")
        unsure = ctx.undecided()
        if unsure:
            return Verdict(None, f"no_regressions: {len(unsure)} latency series not judged yet: {_few(unsure)}")
        return Verdict(True, "no regressions")
    if isinstance(node, Health):
        return _health(node, ctx)
    if isinstance(node, StatusIn):
        return _status_in(node, ctx)
    if isinstance(node, WindowStat):
        return _window_stat(node, ctx)
    if isinstance(node, Matches):
        return _host_figures(node, ctx)
    if isinstance(node, LoadStat):
        if ctx.is_service(node.selector):  # cpu(S)/mem(S): the service's own, on its hosts
            return judge_service_usage(as_service(node), ctx)
        if node.func == "mem" and node.limit.unit != "%":
            return judge_load_stat_size(node, ctx)
        return _host_figures(node, ctx)
    if isinstance(node, Rss):  # mem()'s alias for process checks
        return judge_service_usage(ServiceUsage("mem", node.target, node.op, node.limit), ctx,
                                   label=f"rss({node.target.text})")
    if isinstance(node, ServiceUsage):
        return judge_service_usage(node, ctx)
    if isinstance(node, HostStat):
        return judge_host_stat(node, ctx)
    if isinstance(node, DiskStat):
        return judge_disk(node, ctx)
    if isinstance(node, Command):
        return await _command(node, ctx)
    if isinstance(node, ValueCmp):
        return await _value_cmp(node, ctx)
    if isinstance(node, Metric):
        return Verdict(*await judge_metric(node, ctx))
    if isinstance(node, Compare):
        return Verdict(*await judge_compare(node, ctx))
    raise TypeError(f"not a condition node: {node!r}")


async def evaluate_all(conditions: Sequence[str | Node], ctx: EvalContext) -> Verdict:
    """AND of a ``gate`` or ``verify`` list (strings are parsed; ConditionError propagates)."""
    nodes = [parse(c) if isinstance(c, str) else c for c in conditions]
    if not nodes:
        return Verdict(True, "no conditions")
    return _combine(await asyncio.gather(*(evaluate(n, ctx) for n in nodes)), and_=True)


def _combine(parts: Sequence[Verdict], *, and_: bool) -> Verdict:
    """The detail names the parts that decided: ``and`` its False (else None) ones, ``or`` its True ones."""
    value = (all_of if and_ else any_of)(p.value for p in parts)
    unanimous = value is (True if and_ else False)  # every part agreed: all of them decided
    deciding = parts if unanimous else [p for p in parts if p.value is value]
    return Verdict(value, "; ".join(p.detail for p in deciding), tuple(v for p in parts for v in p.series))


# --------------------------------------------------------------------------- service status

def _state(ctx: EvalContext, service: str, host: str) -> tuple[str, str]:
    """(up | degraded | down | unknown | unreachable | missing, a note with {hosts})."""
    if ctx.reachable(host) is False:
        return "unreachable", "{hosts} unreachable"
    r = ctx.latest(service, host)
    if r is None:
        return "missing", "no fresh result from {hosts}"
    why = f" ({_short(r.detail)})" if r.detail else ""
    return r.status, ("status unknown" if r.status == "unknown" else r.status) + " on {hosts}" + why


def _health(node: Health, ctx: EvalContext) -> Verdict:
    label = f"{node.func}({node.target.text})"
    hosts = ctx.hosts_for(node.target.service, node.target.selector)
    if not hosts:
        return _no_hosts(label, "no host is checked for it")
    good = "down" if node.func == "down" else "up"
    rows: list[tuple[str, Outcome, str]] = []
    for h in hosts:
        status, note = _state(ctx, node.target.service, h)
        definite = status in ("up", "degraded", "down")
        rows.append((h, (status == good) if definite else None, note))
    outcomes = [o for _, o, _ in rows]
    if node.func == "any_up":
        value = any_of(outcomes)
        if value is True:
            return Verdict(True, f"{label}: {_group(rows, True)} ({outcomes.count(True)} of {len(rows)} hosts)")
        shown = [g for g in (_group(rows, None), _group(rows, False)) if g]
        return Verdict(value, f"{label}: " + "; ".join(shown))
    value = all_of(outcomes)
    if value is True:
        return Verdict(True, f"{label}: {good} on all {len(rows)} host(s)")
    return Verdict(value, f"{label}: {_group(rows, value)}")


def _status_in(node: StatusIn, ctx: EvalContext) -> Verdict:
    label = f"status({node.target.text})"
    hosts = ctx.hosts_for(node.target.service, node.target.selector)
    if not hosts:
        return _no_hosts(label, "no host is checked for it")
    want = " or ".join(str(c) for c in node.codes)
    rows: list[tuple[str, Outcome, str]] = []
    for h in hosts:
        status, note = _state(ctx, node.target.service, h)
        r = ctx.latest(node.target.service, h) if status not in ("unreachable", "missing") else None
        code = _extra(r, "http_status")
        num = int(code) if code is not None else None
        if num is None:
            rows.append((h, None, note if r is None else "no HTTP status from {hosts}"))
        else:
            rows.append((h, num in node.codes, f"HTTP {num} on " + "{hosts}"))
    value = all_of(o for _, o, _ in rows)
    if value is True:
        return Verdict(True, f"{label}: {_group(rows, True)}")
    return Verdict(value, f"{label}: {_group(rows, value)}" + (f", want {want}" if value is False else ""))


# --------------------------------------------------------------------------- windows and figures

_MEASURED = {None: "probes", "connect": "connects", "tls": "TLS handshakes"}


def _window_stat(node: WindowStat, ctx: EvalContext) -> Verdict:
    """Over the cockpit's own probes in the window; the detail says so (how many, of what, over how long)."""
    phase = f", {node.phase}" if node.phase else ""
    label = f"{node.func}({node.target.text}{phase})"
    hosts = ctx.hosts_for(node.target.service, node.target.selector)
    if not hosts:
        return _no_hosts(label, "no host is checked for it")
    samples = ctx.window(node.target.service, hosts)
    if node.func == "p95":
        data = sorted(v for v in (getattr(s, node.phase or "latency", None) for s in samples) if v is not None)
        kind, what = "duration", _MEASURED[node.phase]
    else:
        data = [100.0 if s.status == "down" else 0.0 for s in samples if s.status != "unknown"]
        kind, what = "percent", "probes"
    n, need = len(data), max(ctx.min_samples, 1)
    span = _span(ctx.window_seconds)
    if n < need:
        return Verdict(None, f"{label}: inconclusive, {n} of {need} {what} by the cockpit{span}")
    figure = data[math.ceil(0.95 * n) - 1] if node.func == "p95" else sum(data) / n
    ok = _OPS[node.op](figure, node.limit.value)
    return Verdict(ok, f"{label} = {_fmt(kind, figure)} over {n} {what} by the cockpit{span}, "
                       f"{_limit(node.op, node.limit, kind)}")


def _span(seconds: float | None) -> str:
    if not seconds:
        return ""
    if seconds % 60 == 0:
        return f" in {seconds / 60:g} m"
    return f" in {seconds:g} s"


def _host_figures(node: LoadStat | Matches, ctx: EvalContext) -> Verdict:
    """cpu/mem (percentages) from each host's latest load; matches from each host's log check."""
    kind = "number" if isinstance(node, Matches) else "percent"
    figures: list[tuple[str, float | None, str]] = []  # host, figure, why missing
    if isinstance(node, Matches):
        label = f"matches({node.target.text})"
        for h in ctx.hosts_for(node.target.service, node.target.selector):
            status, note = _state(ctx, node.target.service, h)
            r = ctx.latest(node.target.service, h) if status not in ("unreachable", "missing") else None
            fig = _extra(r, "matches")
            why = note if r is None or (status == "unknown" and fig is None) else "no matches figure from {hosts}"
            figures.append((h, fig, why))
    else:
        label = f"{node.func}({node.selector})"
        for st in ctx.load(node.selector):
            fig = getattr(st.load, node.func) if st.load is not None and st.reachable else None
            figures.append((st.name, fig, "{hosts} unreachable" if not st.reachable else
                            f"no {node.func} figure from " + "{hosts}"))
    if not figures:
        return _no_hosts(label, "no host matches")
    cmp, lim = _OPS[node.op], node.limit.value
    rows: list[tuple[str, Outcome, str]] = [
        (h, None if f is None else cmp(f, lim), why if f is None else f"{_fmt(kind, f)} on " + "{hosts}")
        for h, f, why in figures
    ]
    value = all_of(o for _, o, _ in rows)
    if value is True:
        vals = [f for _, f, _ in figures if f is not None]
        span = _fmt(kind, vals[0]) if min(vals) == max(vals) else f"{_fmt(kind, min(vals))}..{_fmt(kind, max(vals))}"
        return Verdict(True, f"{label} = {span} on {len(vals)} host(s), {_limit(node.op, node.limit, kind)}")
    return Verdict(value, f"{label}: {_group(rows, value)}, {_limit(node.op, node.limit, kind)}")


# --------------------------------------------------------------------------- commands

async def _run(ctx: EvalContext, command: str, host: str) -> tuple[int | None, str]:
    try:
        return await ctx.run(command, host)
    except CockpitError as exc:  # the context should return (None, ...) itself; be safe at the boundary
        return None, exc.message


def _cmd_label(func: str, v: Command | ValueOf) -> str:
    return f'{func}("{_short(v.command, 40)}"){"@" + v.selector if v.selector else ""}'


async def _command(node: Command, ctx: EvalContext) -> Verdict:
    label = _cmd_label("command", node)
    hosts = ctx.command_hosts(node.selector)
    if not hosts:
        return _no_hosts(label, "no host to run it on")
    results = await asyncio.gather(*(_run(ctx, node.command, h) for h in hosts))
    rows: list[tuple[str, Outcome, str]] = []
    for h, (code, out) in zip(hosts, results):
        last = _last_line(out)
        if code is None:
            rows.append((h, None, "could not run on {hosts}" + (f": {last}" if last else "")))
        else:
            rows.append((h, code == 0, f"exit {code} on " + "{hosts}" + (f": {last}" if last and code else "")))
    value = all_of(o for _, o, _ in rows)
    if value is True:
        return Verdict(True, f"{label}: exit 0 on all {len(rows)} host(s)")
    return Verdict(value, f"{label}: {_group(rows, value)}")


def _number(code: int | None, out: str) -> tuple[Outcome, float | int | None, str]:
    """(None: could not run | False: no number | True, the number, why not)."""
    last = _last_line(out)
    if code is None:
        return None, None, "could not run" + (f": {last}" if last else "")
    if code != 0:
        return False, None, f"exit {code}" + (f": {last}" if last else "")
    text = strip_control(out).strip()
    try:
        return True, int(text), ""
    except ValueError:
        pass
    try:
        num = float(text)
    except ValueError:
        num = math.nan
    if not math.isfinite(num):
        return False, None, f"printed {_short(text, 30)!r}, not a number"
    return True, num, ""


async def _value_cmp(node: ValueCmp, ctx: EvalContext) -> Verdict:
    right = node.right
    label = _cmd_label("value", node.left) + f" {node.op} " + (
        _cmd_label("value", right) if isinstance(right, ValueOf) else _fmt("number", right.value))
    left_hosts = ctx.command_hosts(node.left.selector)
    right_hosts = ctx.command_hosts(right.selector) if isinstance(right, ValueOf) else []
    pairs: list[tuple[str, str | None]]  # (left host, right host or None for a constant)
    if not isinstance(right, ValueOf):
        pairs = [(h, None) for h in left_hosts]
    elif left_hosts == right_hosts:
        pairs = [(h, h) for h in left_hosts]
    elif len(right_hosts) == 1:
        pairs = [(h, right_hosts[0]) for h in left_hosts]
    elif len(left_hosts) == 1:
        pairs = [(left_hosts[0], h) for h in right_hosts]
    else:
        return Verdict(None, f"{label}: the sides run on different hosts ({_few(left_hosts)} vs "
                       f"{_few(right_hosts)}); give one side a single host or both the same selector")
    if not pairs:
        return _no_hosts(label, "no host to run it on")
    jobs = {(node.left.command, lh) for lh, _ in pairs}
    if isinstance(right, ValueOf):
        jobs |= {(right.command, rh) for _, rh in pairs if rh is not None}
    order = sorted(jobs)
    results = dict(zip(order, await asyncio.gather(*(_run(ctx, c, h) for c, h in order))))
    cmp = _OPS[node.op]
    rows: list[tuple[str, Outcome, str]] = []
    for lh, rh in pairs:
        where = lh if rh in (None, lh) else f"{lh} vs {rh}"
        lok, lnum, lwhy = _number(*results[(node.left.command, lh)])
        if isinstance(right, ValueOf):
            rok, rnum, rwhy = _number(*results[(right.command, rh)])  # type: ignore[index]
        else:
            rok, rnum, rwhy = True, right.value, ""
        bad = [f"{side} {why}" for side, ok, why in (("left", lok, lwhy), ("right", rok, rwhy)) if ok is not True]
        if bad:
            note = ", ".join(bad) if isinstance(right, ValueOf) else lwhy
            rows.append((where, all_of((lok, rok)), "{hosts}: " + note))
            continue
        assert lnum is not None and rnum is not None
        shown = f"{_fmt('number', lnum)} vs {_fmt('number', rnum)}" if isinstance(right, ValueOf) \
            else _fmt("number", lnum)
        rows.append((where, cmp(lnum, rnum), f"{shown} on " + "{hosts}"))
    value = all_of(o for _, o, _ in rows)
    return Verdict(value, f"{label}: {_group(rows, value)}")
