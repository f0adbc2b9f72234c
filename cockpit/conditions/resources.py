"""The resource functions of the conditions language: a service's or host's CPU and memory, load, cores, disk.

``cpu(X)`` and ``mem(X)`` read a service when X names one (``cpu(api)``, or ``cpu(api@tag:eu)`` for some of
its hosts) and the hosts a selector matches otherwise (``cpu(tag:web)``): the config loader refuses a name
that is both. A service's CPU is a percentage of one core (as ``top`` and ``docker stats`` show it), its
memory a size (``mem(api) < 200MB``); a host's are percentages of the whole host. ``load1(SEL)`` and
``load5(SEL)`` compare plain numbers, also per core: ``load1(SEL) / cores(SEL) < 2``. ``disk(SEL, "/path")``
takes the path as an argument so a selector such as ``tag:eu`` stays unambiguous.

Parsed here (called from :mod:`cockpit.conditions.parser`), judged in :mod:`cockpit.conditions.usage`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NoReturn, Protocol, Union

from cockpit.conditions.terms import Cmp, LoadStat, Quantity, Target
from cockpit.errors import ConditionError

__all__ = ["HOST_FIGURES", "RESOURCE_FUNCTIONS", "DiskStat", "HostStat", "ResourceNode", "ServiceUsage", "parse_resource"]

#: the functions parsed here (``cpu`` and ``mem`` with a host selector stay :class:`LoadStat` nodes)
RESOURCE_FUNCTIONS = ("cpu", "mem", "load1", "load5", "cores", "disk")
HOST_FIGURES = ("load1", "load5", "cores")
_SERVICE_AT = re.compile(r"([A-Za-z0-9_.-]+)\s*@")


@dataclass(frozen=True)
class ServiceUsage:
    """``cpu(S@SEL) < 50%`` (percent of one core) or ``mem(S@SEL) < 200MB``: the service's own resources.

    ``cpu(S)`` without ``@`` parses as a :class:`LoadStat` whose selector the evaluator finds is a service.
    """

    func: Literal["cpu", "mem"]
    target: Target
    op: Cmp
    limit: Quantity


@dataclass(frozen=True)
class HostStat:
    """``load1(SEL) < 4``, ``load1(SEL) / cores(SEL) < 2`` or ``cores(SEL) >= 2``: each matching host."""

    func: Literal["load1", "load5", "cores"]
    selector: str
    op: Cmp
    limit: Quantity
    per_core: bool = False  # divided by the same hosts' cores


@dataclass(frozen=True)
class DiskStat:
    """``disk(SEL, "/var") < 90%``: how full the filesystem holding that path is, on each matching host."""

    selector: str
    path: str
    op: Cmp
    limit: Quantity


ResourceNode = Union[ServiceUsage, HostStat, DiskStat]


class _Scanner(Protocol):
    """The parts of the parser this module uses."""

    text: str
    pos: int

    def ws(self) -> None: ...
    def punct(self, char: str, expected: str | None = None) -> None: ...
    def selector(self, where: str) -> str: ...
    def cmp(self, after: str) -> Cmp: ...
    def quantity(self, kind: str, func: str) -> Quantity: ...
    def string(self) -> str: ...
    def keyword(self, word: str) -> bool: ...
    def fail(self, expected: str, pos: int | None = None, hint: str | None = None, got: str | None = None) -> NoReturn: ...


def parse_resource(p: _Scanner, name: str) -> ResourceNode | LoadStat:
    """One resource function after its name; returns a node (a ``LoadStat`` for a host's cpu/mem)."""
    p.punct("(", f'"(" after "{name}"')
    p.ws()
    service = _SERVICE_AT.match(p.text, p.pos) if name in ("cpu", "mem") else None
    if service is not None:  # cpu(S@SEL): a service on some of its hosts
        p.pos = service.end()
        target: Target | None = Target(service.group(1), p.selector(' after "@"'))
        selector = service.group(1)
    else:
        target = None
        selector = p.selector(f' in "{name}("')
    if name in ("cpu", "mem"):
        p.punct(")", '")" after the selector')
        shown = target.text if target else selector
        op = p.cmp(f"{name}({shown})")
        limit = p.quantity("memory" if name == "mem" else "percent", name)
        if target is None:  # a host's cpu()/mem() keeps the node it always had
            return LoadStat(name, selector, op, limit)  # type: ignore[arg-type]
        return ServiceUsage(name, target, op, limit)  # type: ignore[arg-type]
    if name == "disk":
        p.punct(",", '"," and a quoted path after the selector, e.g. disk(all, "/var")')
        start = p.pos
        path = p.string()
        if not path.startswith("/"):
            raise ConditionError(p.text, start, f"expected an absolute path, got {path!r}", 'e.g. disk(all, "/var")')
        p.punct(")", '")" after the path')
        op = p.cmp(f'disk({selector}, "{path}")')
        return DiskStat(selector, path, op, p.quantity("percent", "disk"))
    p.punct(")", '")" after the selector')
    per_core = False
    p.ws()
    if name != "cores" and p.text.startswith("/", p.pos):
        p.pos += 1
        p.ws()
        at = p.pos
        if not p.keyword("cores"):
            p.fail(f'"cores({selector})" after "/"', at, f"per-core load: {name}({selector}) / cores({selector}) < 2")
        p.punct("(", '"(" after "cores"')
        at = p.pos
        other = p.selector(' in "cores("')
        if other != selector:
            raise ConditionError(p.text, at, f'expected the same selector as {name}(), "{selector}", got "{other}"',
                                 "per-core load divides each host's load by its own cores")
        p.punct(")", '")" after the selector')
        per_core = True
    label = f"{name}({selector})" + (f" / cores({selector})" if per_core else "")
    op = p.cmp(label)
    return HostStat(name, selector, op, p.quantity("number", name), per_core)  # type: ignore[arg-type]

