"""The conditions of runbook ``gate`` and ``verify`` lists: parsed, never ``eval``'d.

``parse(text)`` gives a frozen AST (or raises :class:`ConditionError` naming the
column); ``references(node)`` what it names, for the config loader;
``render(node)`` its canonical text; ``evaluate(node, ctx)`` a three-valued
:class:`Verdict` (None: inconclusive) against an :class:`EvalContext`, and
``evaluate_all(list, ctx)`` the AND of a list. The language and its semantics
are in ``docs/conditions.md``. The AST and parser live in
:mod:`cockpit.conditions.parser`, the evaluator in :mod:`cockpit.conditions.evaluator`;
``render`` and ``references`` (what the config loader needs besides ``parse``) are here.
Import all of it from the face, :mod:`cockpit.conditions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cockpit.conditions.parser import (
    And,
    Command,
    Compare,
    DiskStat,
    Health,
    HostStat,
    LoadStat,
    Matches,
    Metric,
    MetricRef,
    Node,
    NoRegressions,
    Not,
    Or,
    Quantity,
    Rss,
    ServiceUsage,
    StatusIn,
    ValueCmp,
    ValueOf,
    WindowStat,
)

__all__ = ["Refs", "references", "render"]


def _num(x: float) -> str:
    if x.is_integer():
        return str(int(x))
    return format(Decimal(repr(x)), "f")  # positional: the parser reads no exponents


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _at(selector: str | None) -> str:
    return f"@{selector}" if selector else ""


def _value(v: ValueOf) -> str:
    return f"value({_quote(v.command)}){_at(v.selector)}"


def _qty(q: Quantity) -> str:
    return _num(q.number) + q.unit


def render(node: Node) -> str:
    """Canonical text: ``parse(render(n)) == n`` for every node ``parse`` can produce."""
    if isinstance(node, (And, Or)):
        word = " and " if isinstance(node, And) else " or "
        inner = (And, Or) if isinstance(node, And) else (Or,)
        return word.join(f"({render(c)})" if isinstance(c, inner) else render(c) for c in node.operands)
    if isinstance(node, Not):
        inner_text = render(node.operand)
        return f"not ({inner_text})" if isinstance(node.operand, (And, Or)) else f"not {inner_text}"
    if isinstance(node, NoRegressions):
        return "no_regressions"
    if isinstance(node, Health):
        return f"{node.func}({node.target.text})"
    if isinstance(node, StatusIn):
        return f"status({node.target.text}) in [{', '.join(str(c) for c in node.codes)}]"
    if isinstance(node, WindowStat):
        phase = f", {node.phase}" if node.phase else ""
        return f"{node.func}({node.target.text}{phase}) {node.op} {_qty(node.limit)}"
    if isinstance(node, Rss):
        return f"rss({node.target.text}) {node.op} {_qty(node.limit)}"
    if isinstance(node, Matches):
        return f"matches({node.target.text}) {node.op} {_qty(node.limit)}"
    if isinstance(node, LoadStat):
        return f"{node.func}({node.selector}) {node.op} {_qty(node.limit)}"
    if isinstance(node, ServiceUsage):
        return f"{node.func}({node.target.text}) {node.op} {_qty(node.limit)}"
    if isinstance(node, HostStat):
        per = f" / cores({node.selector})" if node.per_core else ""
        return f"{node.func}({node.selector}){per} {node.op} {_qty(node.limit)}"
    if isinstance(node, DiskStat):
        return f"disk({node.selector}, {_quote(node.path)}) {node.op} {_qty(node.limit)}"
    if isinstance(node, Command):
        return f"command({_quote(node.command)}){_at(node.selector)}"
    if isinstance(node, ValueCmp):
        right = _value(node.right) if isinstance(node.right, ValueOf) else _qty(node.right)
        return f"{_value(node.left)} {node.op} {right}"
    if isinstance(node, Metric):
        args = "".join(f", {k}={_quote(v)}" for k, v in (("source", node.source), ("count", node.count)) if v)
        tail = f" min_count {node.min_count}" if node.min_count is not None else ""
        return f"metric({_quote(node.query)}{args}) {node.op} {_qty(node.limit)}{tail}"
    if isinstance(node, Compare):
        return f"compare({_ref(node.current)}, {_ref(node.base)})"
    raise TypeError(f"not a condition node: {node!r}")


def _ref(m: MetricRef) -> str:
    return f"metric({_quote(m.query)}" + (f", source={_quote(m.source)}" if m.source else "") + ")"


@dataclass(frozen=True)
class Refs:
    """What a condition names, so the config loader can report unknown services and selectors."""

    services: frozenset[str]
    selectors: frozenset[str]
    process_services: frozenset[str]  # services rss() reads: they must be process checks
    uses_regressions: bool
    #: every p95()/error_rate(): only kinds with a latency have them; validate weighs their thresholds
    windowed: frozenset[WindowStat] = frozenset()
    #: every metric(): validate checks its source and its placeholders
    metrics: frozenset[Metric] = frozenset()
    log_services: frozenset[str] = frozenset()  # services matches() reads: they must be log checks
    #: (function, name, written with @) of every cpu()/mem()/rss() whose argument may be a service: validate
    #: checks that a service's kind can give its resources, and that a bare name is not also a host selector
    resources: frozenset[tuple[str, str, bool]] = frozenset()
    #: (selector, path) of every disk(): the path must be among the hosts' sampled mounts
    disks: frozenset[tuple[str, str]] = frozenset()


def references(node: Node) -> Refs:
    services: set[str] = set()
    selectors: set[str] = set()
    process: set[str] = set()
    windowed: set[WindowStat] = set()
    metrics: set[Metric] = set()
    logs: set[str] = set()
    resources: set[tuple[str, str, bool]] = set()
    disks: set[tuple[str, str]] = set()
    regressions = False
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (And, Or)):
            stack.extend(n.operands)
        elif isinstance(n, Not):
            stack.append(n.operand)
        elif isinstance(n, NoRegressions):
            regressions = True
        elif isinstance(n, ServiceUsage):
            services.add(n.target.service)
            resources.add((n.func, n.target.service, True))
            if n.target.selector:
                selectors.add(n.target.selector)
        elif isinstance(n, (HostStat, DiskStat)):
            selectors.add(n.selector)
            if isinstance(n, DiskStat):
                disks.add((n.selector, n.path))
        elif isinstance(n, (Health, StatusIn, WindowStat, Rss, Matches)):
            services.add(n.target.service)
            if n.target.selector:
                selectors.add(n.target.selector)
            if isinstance(n, Matches):
                logs.add(n.target.service)
            if isinstance(n, Rss):
                process.add(n.target.service)
                resources.add(("rss", n.target.service, True))
            if isinstance(n, WindowStat):
                windowed.add(n)
        elif isinstance(n, LoadStat):  # a host selector, or a service's name (validate tells which)
            selectors.add(n.selector)
            resources.add((n.func, n.selector, False))
        elif isinstance(n, Command):
            if n.selector:
                selectors.add(n.selector)
        elif isinstance(n, ValueCmp):
            for v in (n.left, n.right):
                if isinstance(v, ValueOf) and v.selector:
                    selectors.add(v.selector)
        elif isinstance(n, Metric):
            metrics.add(n)
        elif isinstance(n, Compare):  # validated as metric()s are: the source exists, placeholders in label values
            metrics |= {Metric(m.query, ">", Quantity(0.0), m.source) for m in (n.current, n.base)}
    return Refs(frozenset(services), frozenset(selectors), frozenset(process), regressions, frozenset(windowed),
                metrics=frozenset(metrics), log_services=frozenset(logs), resources=frozenset(resources),
                disks=frozenset(disks))
