"""The conditions language: text -> frozen AST, by a hand-written parser (never ``eval``).

The scanner is driven by the parser: a selector may hold ``[`` and ``]`` while
``status(...) in [...]`` uses them as list brackets, so what a character means
depends on what the grammar expects next. Every error names the 1-based column
and what was expected there; see ``docs/conditions.md`` for the language.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NoReturn, Union

from cockpit.conditions.resources import RESOURCE_FUNCTIONS, DiskStat, HostStat, ServiceUsage, parse_resource
from cockpit.conditions.terms import FACTOR as _FACTOR
from cockpit.conditions.terms import Cmp, LoadStat, Quantity, Target, Unit
from cockpit.conditions.wording import OPS
from cockpit.errors import ConditionError

__all__ = ["FUNCTIONS", "LATENCY_PHASES", "And", "Command", "Compare", "DiskStat", "Health", "HostStat", "LoadStat",
           "Matches", "Metric", "MetricRef", "Node", "NoRegressions", "Not", "Or", "Quantity", "Rss", "ServiceUsage",
           "StatusIn", "Target", "ValueCmp", "ValueOf", "WindowStat", "parse"]


FUNCTIONS = ("up", "any_up", "down", "status", "p95", "error_rate", "rss", "matches", "command", "value",
             "no_regressions", "metric", "compare", *RESOURCE_FUNCTIONS)
_CMPS: tuple[Cmp, ...] = ("<=", ">=", "==", "!=", "<", ">")  # two-character ones first
_ALIASES = {"KiB": "KB", "MiB": "MB", "GiB": "GB"}
_KIND_UNITS = {"duration": ("ms", "s", "m", "h"), "percent": ("%",), "size": ("KB", "MB", "GB"), "number": ("",),
               "memory": ("%", "KB", "MB", "GB"), "any": ("", "ms", "s", "m", "h", "%", "KB", "MB", "GB")}
_KIND_WORDS = {"duration": "a duration such as 200ms", "percent": "a percentage such as 0.5%",
               "size": "a size such as 200MB", "number": "a plain number",
               "memory": "a percentage such as 90% or a size such as 200MB",
               "any": "a number, optionally with a unit (200ms, 0.1%, 2GB)"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)?")  # SERVICE or SERVICE/PART (a compose container)
_SELECTOR = re.compile(r"[A-Za-z0-9_.*?\[\]:-]+")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_UNIT_WORD = re.compile(r"[A-Za-z]+|%")
_SEL_CHARS = "letters, digits, _ . * ? [ ] : -"
_FORMS = ("forms: up(S), any_up(S), down(S), status(S) in [200], p95(S) < 200ms, p95(S, connect) < 50ms, "
          "error_rate(S) < 1%, matches(S) == 0, "
          'cpu(SEL) < 80%, mem(SEL) < 90%, cpu(S) < 50%, mem(S) < 200MB, rss(S) < 200MB, load1(SEL) / cores(SEL) < 2, '
          'disk(SEL, "/var") < 90%, command("..."), value("...") > 0, no_regressions, metric("PROMQL") < 0.1%')


# --------------------------------------------------------------------------- the AST

@dataclass(frozen=True)
class Health:
    """``up(S)``, ``any_up(S)`` or ``down(S)``: the latest result on each targeted host."""

    func: Literal["up", "any_up", "down"]
    target: Target


@dataclass(frozen=True)
class StatusIn:
    """``status(S) in [200, 301]``: the latest HTTP status on each targeted host."""

    target: Target
    codes: tuple[int, ...]


#: Latency phases ``p95`` may name besides the main latency (:data:`cockpit.history.PHASES`).
LATENCY_PHASES = ("connect", "tls")


@dataclass(frozen=True)
class WindowStat:
    """``p95(S) < 200ms``, ``p95(S, connect) < 50ms`` or ``error_rate(S) < 1%``: over the context's window."""

    func: Literal["p95", "error_rate"]
    target: Target
    op: Cmp
    limit: Quantity
    phase: str | None = None  # p95 only: one of LATENCY_PHASES; None is the request (or TCP connect) time


@dataclass(frozen=True)
class Rss:
    """``rss(S) < 200MB``: resident memory reported by a process check."""

    target: Target
    op: Cmp
    limit: Quantity


@dataclass(frozen=True)
class Matches:
    """``matches(S) == 0``: lines a log check matched since its mark (the step's start, or the baseline)."""

    target: Target
    op: Cmp
    limit: Quantity


@dataclass(frozen=True)
class Command:
    """``command("CMD")[@SEL]``: exit status 0 on every host."""

    command: str
    selector: str | None = None


@dataclass(frozen=True)
class ValueOf:
    """``value("CMD")[@SEL]``: the number a command prints, one per host."""

    command: str
    selector: str | None = None


@dataclass(frozen=True)
class ValueCmp:
    """``value("A") OP N`` or ``value("A") OP value("B")``."""

    left: ValueOf
    op: Cmp
    right: Quantity | ValueOf


@dataclass(frozen=True)
class Metric:
    """``metric("PROMQL"[, source="NAME"][, count="PROMQL"]) OP N [min_count N]``: a query, judged per series.

    ``limit`` in the query's own units: seconds for durations, bytes for sizes, and a ratio for ``%``
    (``0.1%`` is 0.001, what an error ratio query gives); see :attr:`ratio_limit`.
    """

    query: str
    op: Cmp
    limit: Quantity
    source: str | None = None
    count: str | None = None
    min_count: int | None = None

    @property
    def ratio_limit(self) -> float:
        return self.limit.number / 100.0 if self.limit.unit == "%" else self.limit.value


@dataclass(frozen=True)
class MetricRef:
    """``metric("PROMQL"[, source="NAME"])`` as an argument of compare(): a query without a limit."""

    query: str
    source: str | None = None


@dataclass(frozen=True)
class Compare:
    """``compare(metric("…v2…"), metric("…v1…"))``: is the first no worse than the second?

    Both run as range queries over the gate's window; the two sample sets are judged by the cockpit's
    regression rule (:func:`cockpit.baseline.latency_shift`, the probes' own): the first regressed
    against the second fails, too few samples is inconclusive.
    """

    current: MetricRef
    base: MetricRef


@dataclass(frozen=True)
class NoRegressions:
    """``no_regressions``: nothing that was fine at the baseline has got worse."""


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]  # two or more


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]  # two or more


Node = Union[And, Or, Not, NoRegressions, Health, StatusIn, WindowStat, LoadStat, Rss, Matches, Command, ValueCmp, Metric,
             Compare, ServiceUsage, HostStat, DiskStat]


# --------------------------------------------------------------------------- the parser

def parse(text: str) -> Node:
    """Parse one condition.

    Raises:
        ConditionError: naming the column, what was expected there and what was found.
    """
    p = _Parser(text)
    node = p.or_expr("")
    p.ws()
    if p.pos < len(text):
        p.fail('"and", "or" or the end of the condition')
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # ---- scanning

    def fail(self, expected: str, pos: int | None = None, hint: str | None = None, got: str | None = None) -> NoReturn:
        if pos is None:
            self.ws()  # point at what was found, not at the blank before it
        at = self.pos if pos is None else pos
        raise ConditionError(self.text, at, f"expected {expected}, got {got or self.got(at)}", hint)

    def got(self, pos: int) -> str:
        rest = self.text[pos:]
        if not rest:
            return "the end of the condition"
        m = _NAME.match(rest) or re.match(r"[<>=!]=?", rest)
        tok = m.group() if m else rest[0]
        tok = tok if len(tok) <= 20 else tok[:20] + "…"
        if not tok.isprintable():
            return repr(tok)
        return f"'{tok}'" if '"' in tok else f'"{tok}"'

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.ws()
        m = pattern.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group()

    def keyword(self, word: str) -> bool:
        start = self.pos
        if self.match(_IDENT) == word:
            return True
        self.pos = start
        return False

    def punct(self, char: str, expected: str | None = None) -> None:
        self.ws()
        if not self.text.startswith(char, self.pos):
            self.fail(expected or f'"{char}"')
        self.pos += len(char)

    # ---- expressions

    def or_expr(self, where: str) -> Node:
        items = [self.and_expr(where)]
        while self.keyword("or"):
            items.append(self.and_expr(' after "or"'))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self, where: str) -> Node:
        items = [self.not_expr(where)]
        while self.keyword("and"):
            items.append(self.not_expr(' after "and"'))
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self, where: str) -> Node:
        if self.keyword("not"):
            return Not(self.not_expr(' after "not"'))
        return self.atom(where)

    def atom(self, where: str) -> Node:
        self.ws()
        start = self.pos
        if self.text.startswith("(", start):
            self.pos += 1
            node = self.or_expr(' after "("')
            self.punct(")", f'")" to close the "(" at col {start + 1}')
            return node
        name = self.match(_IDENT)
        if name is None or name in ("and", "or", "not", "in"):
            self.fail(f"a condition{where}", start, _FORMS)
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            raise ConditionError(self.text, start, f'unknown function "{name}"; expected one of {", ".join(FUNCTIONS)}',
                                 f'did you mean "{close[0]}"?' if close else _FORMS)
        if name == "no_regressions":
            return NoRegressions()
        if name in ("up", "any_up", "down"):
            return Health(name, self.call_target(name)[0])  # type: ignore[arg-type]
        if name == "status":
            return self.status_in()
        if name in ("p95", "error_rate", "rss"):
            target, phase = self.call_target(name, LATENCY_PHASES if name == "p95" else ())
            op = self.cmp(f"{name}({target.text}{', ' + phase if phase else ''})")
            limit = self.quantity("duration" if name == "p95" else "percent" if name == "error_rate" else "size", name)
            if name == "rss":
                return Rss(target, op, limit)
            return WindowStat(name, target, op, limit, phase)  # type: ignore[arg-type]
        if name == "matches":
            target = self.call_target(name)[0]
            op = self.cmp(f"matches({target.text})")
            return Matches(target, op, self.quantity("number", name))
        if name == "metric":
            return self.metric()
        if name == "compare":
            self.punct("(", '"(" after "compare"')
            current = self.metric_ref("compare(")
            self.punct(",", '"," between the two metric() of compare()')
            base = self.metric_ref("compare(metric(...), ")
            self.punct(")", '")" after the second metric()')
            return Compare(current, base)
        if name in RESOURCE_FUNCTIONS:
            return parse_resource(self, name)
        if name == "command":
            command, selector = self.call_string("command")
            return Command(command, selector)
        left = ValueOf(*self.call_string("value"))
        op = self.cmp(f'value("{left.command}")')
        self.ws()
        if self.text.startswith("value", self.pos) and self.keyword("value"):
            return ValueCmp(left, op, ValueOf(*self.call_string("value")))
        return ValueCmp(left, op, self.quantity("number", "value"))

    # ---- pieces

    def metric_ref(self, where: str) -> MetricRef:
        """``metric("PROMQL"[, source="NAME"])`` inside compare(): no limit, no count."""
        self.ws()
        start = self.pos
        if not self.keyword("metric"):
            raise ConditionError(self.text, start, f'expected metric("PROMQL") in {where}, got {self.got(start)}',
                                 'compare(metric("latency{version=\'v2\'}"), metric("latency{version=\'v1\'}"))')
        self.punct("(", '"(" after "metric"')
        query = self.string("PromQL query")
        source = None
        self.ws()
        if self.text.startswith(",", self.pos):
            self.pos += 1
            self.ws()
            at = self.pos
            if self.match(_IDENT) != "source":
                raise ConditionError(self.text, at, f"expected source= in compare's metric(), got {self.got(at)}",
                                     'metric("...", source="prom") names a [metrics.NAME]')
            self.punct("=", '"=" after "source"')
            source = self.string("source name")
        self.punct(")", '")" after the query')
        return MetricRef(query, source)

    def metric(self) -> Metric:
        """``("PROMQL"`` then ``, source="NAME"`` / ``, count="PROMQL"`` in any order ``)``, OP, N, ``min_count N``."""
        self.punct("(", '"(" after "metric"')
        query = self.string("PromQL query")
        args: dict[str, str] = {}
        while True:
            self.ws()
            if self.text.startswith(")", self.pos):
                self.pos += 1
                break
            self.punct(",", '"," or ")" after the query')
            self.ws()
            start = self.pos
            key = self.match(_IDENT)
            if key not in ("source", "count") or key in args:
                raise ConditionError(self.text, start, f"expected source= or count= in metric(), got {self.got(start)}",
                                     'metric("...", source="prom") names a [metrics.NAME]; count="..." a query of '
                                     "how many requests (for min_count)")
            self.punct("=", f'"=" after "{key}"')
            args[key] = self.string("source name" if key == "source" else "PromQL count query")
        op = self.cmp("metric(...)")
        limit = self.quantity("any", "metric")
        min_count = None
        start = self.pos
        if self.keyword("min_count"):
            self.ws()
            at = self.pos
            digits = self.match(re.compile(r"\d+(?![A-Za-z0-9_.%])"))
            if digits is None:
                self.fail("a whole number of requests after min_count", at)
            min_count = int(digits)
            if "count" not in args:
                raise ConditionError(self.text, start, "min_count needs the count of requests: metric(..., "
                                     'count="PROMQL") gives it', 'e.g. metric("ratio", count="sum(increase('
                                     'http_requests_total[1m]))") < 0.1% min_count 500')
        return Metric(query, op, limit, args.get("source"), args.get("count"), min_count)

    def call_target(self, func: str, phases: tuple[str, ...] = ()) -> tuple[Target, str | None]:
        """``(SERVICE[@SELECTOR])``, and ``, PHASE`` before the ``)`` where ``phases`` allows one."""
        self.punct("(", f'"(" after "{func}"')
        service = self.match(_NAME)
        if service is None:
            self.fail(f'a service name after "{func}("')
        selector = None
        self.ws()
        after = "the service name"
        if self.text.startswith("@", self.pos):
            self.pos += 1
            selector = self.selector(' after "@"')
            after = "the selector"
        phase = None
        self.ws()
        if phases and self.text.startswith(",", self.pos):
            self.pos += 1
            self.ws()
            start = self.pos
            phase = self.match(_IDENT)
            if phase not in phases:
                raise ConditionError(self.text, start, f'expected a latency phase ({", ".join(phases)}) after ","',
                                     f"{func}(S) is the request time; {func}(S, connect) the connect time")
            after = "the phase"
        self.punct(")", f'")" after {after}')
        return Target(service, selector), phase

    def call_string(self, func: str) -> tuple[str, str | None]:
        self.punct("(", f'"(" after "{func}"')
        command = self.string()
        self.punct(")", '")" after the command string')
        start = self.pos
        self.ws()
        if self.text.startswith("@", self.pos):
            self.pos += 1
            return command, self.selector(' after "@"')
        self.pos = start
        return command, None

    def selector(self, where: str) -> str:
        self.ws()
        start = self.pos
        sel = self.match(_SELECTOR)
        if sel is None:
            self.fail(f"a host selector (a host name, a glob like web*, tag:NAME or all){where}")
        nxt = self.text[self.pos:self.pos + 1]
        if nxt and not nxt.isspace() and nxt not in ")<>=!,":
            self.fail(f"a selector character ({_SEL_CHARS}) or the end of the selector",
                      hint="selectors: a host name, a glob like web*, tag:NAME, or all")
        if ":" in sel:
            hint = "write tag:NAME to select hosts by tag"
            if not sel.startswith("tag:"):
                raise ConditionError(self.text, start + sel.index(":"),
                                     f'expected "tag:NAME" for a selector with ":", got "{sel}"', hint)
            if not sel[4:]:
                self.fail('a tag name after "tag:"', start + 4, hint)
            if ":" in sel[4:]:
                raise ConditionError(self.text, start + 4 + sel[4:].index(":"),
                                     f'expected a tag name without ":", got "{sel[4:]}"', hint)
        return sel

    def status_in(self) -> StatusIn:
        target = self.call_target("status")[0]
        if not self.keyword("in"):
            self.fail(f'"in" after status({target.text})', hint="e.g. status(web) in [200, 301]")
        self.punct("[", '"[" to start the list of HTTP status codes')
        codes = [self.status_code()]
        while True:
            self.ws()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                codes.append(self.status_code())
            elif self.text.startswith("]", self.pos):
                self.pos += 1
                return StatusIn(target, tuple(codes))
            else:
                self.fail('"," or "]" in the list of status codes')

    def status_code(self) -> int:
        self.ws()
        start = self.pos
        digits = self.match(re.compile(r"\d+(?![A-Za-z0-9_.])"))
        if digits is None or not 100 <= int(digits) <= 599:
            self.fail("an HTTP status code (100-599)", start)
        return int(digits)

    def cmp(self, after: str) -> Cmp:
        self.ws()
        for op in _CMPS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        hint = 'write == to compare for equality' if self.text.startswith("=", self.pos) else None
        self.fail(f"a comparison (< <= > >= == !=) after {after}", hint=hint)

    def quantity(self, kind: str, func: str) -> Quantity:
        self.ws()
        start = self.pos
        text = self.match(_NUMBER)
        if text is None or (text.startswith("-") and kind != "number"):
            self.fail(f"{_KIND_WORDS[kind]} for {func}()", start)
        number = float(text)
        if not math.isfinite(number):
            self.fail(f"a number a float can hold for {func}()", start)
        before_unit = self.pos
        unit_text = self.match(_UNIT_WORD)
        if unit_text in ("and", "or") or (unit_text is None) or self.text.startswith("min_count", self.pos - 3):
            self.pos, unit_text = before_unit, ""
        unit_at = self.pos - len(unit_text)
        unit = _ALIASES.get(unit_text, unit_text)
        if unit not in _FACTOR:
            known = list(dict.fromkeys(u for units in _KIND_UNITS.values() for u in units if u)) + list(_ALIASES)
            close = [u for u in known if u.lower() == unit_text.lower()]
            close = close or difflib.get_close_matches(unit_text, known, n=1)
            raise ConditionError(self.text, unit_at, f'unknown unit "{unit_text}"; expected one of '
                                 "ms s m h (durations), % (percent), KB MB GB (sizes)",
                                 f'did you mean "{close[0]}"?' if close else None)
        if unit not in _KIND_UNITS[kind]:
            hint = {"value": "value() compares against a plain number such as 0 or 1500",
                    "p95": "p95 is a latency: write 200ms or 1.5s",
                    "rss": "rss is a size: write 200MB (1024-based; KB, MB, GB)",
                    "load1": "load is a plain number: write 4, or per core: load1(SEL) / cores(SEL) < 2",
                    "load5": "load is a plain number: write 4, or per core: load5(SEL) / cores(SEL) < 2",
                    "cores": "cores is a plain number of CPUs: write 4"}.get(func, "write e.g. 0.5%")
            self.fail(f"{_KIND_WORDS[kind]} for {func}()", start, hint, f'"{self.text[start:self.pos].strip()}"')
        return Quantity(number, unit)  # type: ignore[arg-type]

    def string(self, what: str = "command") -> str:
        self.ws()
        start = self.pos
        quote = self.text[start:start + 1]
        if quote not in ('"', "'"):
            self.fail(f'a quoted {what} string ("..." or \'...\')')
        out: list[str] = []
        i = start + 1
        while i < len(self.text):
            c = self.text[i]
            if c == quote:
                self.pos = i + 1
                if not "".join(out).strip():
                    raise ConditionError(self.text, start, f"expected a {what}, got an empty string")
                return "".join(out)
            if c == "\\":
                nxt = self.text[i + 1:i + 2]
                if nxt not in ('"', "'", "\\"):
                    raise ConditionError(self.text, i, 'expected \\" \\\' or \\\\ after a backslash, got '
                                         + (repr("\\" + nxt) if nxt else "the end of the condition"),
                                         "write \\\\ for a literal backslash")
                out.append(nxt)
                i += 2
                continue
            out.append(c)
            i += 1
        raise ConditionError(self.text, start, f"expected a closing {quote} for the string opened here, "
                             "got the end of the condition")
