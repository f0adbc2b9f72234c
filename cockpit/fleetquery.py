"""The fleet's filter language and sort keys: which hosts a table lists, and in what order.

Pure functions on immutable :class:`~cockpit.model.HostState` snapshots (no Textual), so the dashboard's ``/``
filter and its sort keys are tested term by term without a screen. The language (docs/ui.md, "Filter"):

    status:down    a service judged down (as the Services column judges it); status:up: reachable, all up;
                   a reach word (ok, connecting, unreachable, auth-failed, host-key-unknown, host-key-CHANGED)
    tag:eu         the host has that tag (a glob: tag:eu-*)
    svc:redis      a service of that name is checked on the host (a glob: svc:redis*)
    web0[12]       any other term: a regular expression searched (any case) in the host's name, its tags, its
                   reach word and its services' judged statuses (so `down` alone still finds what is down)
    !TERM          inverts one term

Terms are separated by spaces and all must hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from cockpit.errors import FilterError
from cockpit.model import STATUS_ORDER, HostState

__all__ = ["SORT_KEYS", "FleetFilter", "parse_filter", "sort_hosts"]

STATUSES = ("up", "degraded", "down", "unknown")
REACHES = ("ok", "connecting", "unreachable", "auth-failed", "host-key-unknown", "host-key-CHANGED")
#: reach words that mean "the cockpit cannot reach it": status:unreachable lists them all
UNREACHED = frozenset({"unreachable", "auth-failed", "host-key-unknown", "host-key-CHANGED"})
PREFIXES = ("status", "tag", "svc")


@dataclass(frozen=True)
class Term:
    """One term: what it tests, and whether ``!`` inverted it."""

    text: str
    test: Callable[[HostState], bool]
    negate: bool = False

    def __call__(self, h: HostState) -> bool:
        return self.test(h) != self.negate


@dataclass(frozen=True)
class FleetFilter:
    """A parsed filter: a host is listed when every term holds (no terms: every host)."""

    text: str = ""
    terms: tuple[Term, ...] = ()

    def __call__(self, h: HostState) -> bool:
        return all(t(h) for t in self.terms)

    def select(self, hosts: Iterable[HostState]) -> list[HostState]:
        return [h for h in hosts if self(h)]


def _status(word: str) -> Callable[[HostState], bool]:
    w = word.lower()
    if w == "up":  # every service judged up on a host that answers: what "● up" means in the table
        return lambda h: h.reach == "ok" and h.worst in (None, "up")
    if w in STATUSES:  # judged, never the raw observation: a retired service that is down is fine
        return lambda h: any(r.judged == w for r in h.results)
    if w == "unreachable":
        return lambda h: h.reach in UNREACHED
    exact = next((r for r in REACHES if r.lower() == w), None)
    if exact is None:
        raise FilterError(f"status:{word} is not a status",
                          f"use one of {', '.join(STATUSES + REACHES)}")
    return lambda h: h.reach == exact


def _glob(word: str, values: Callable[[HostState], Iterable[str]]) -> Callable[[HostState], bool]:
    pat = word.lower()
    return lambda h: any(fnmatchcase(v.lower(), pat) for v in values(h))


def _term(text: str) -> Term:
    negate = text.startswith("!")
    body = text[1:] if negate else text
    if not body:
        raise FilterError(f"{text!r} inverts nothing", "write ! right before a term, e.g. !status:up")
    prefix, colon, value = body.partition(":")
    if colon and prefix.lower() in PREFIXES:
        if not value:
            raise FilterError(f"{body!r} needs a value", f"e.g. {prefix.lower()}:down, tag:eu, svc:redis")
        kind = prefix.lower()
        if kind == "status":
            test = _status(value)
        elif kind == "tag":
            test = _glob(value, lambda h: h.tags)
        else:
            test = _glob(value, lambda h: (r.service for r in h.results))
        return Term(text, test, negate)
    try:
        rx = re.compile(body, re.IGNORECASE)
    except re.error as exc:
        raise FilterError(f"{body!r} is not a regular expression: {exc}",
                          "escape special characters with \\, or use status:, tag: or svc:") from None
    return Term(text, lambda h: any(rx.search(w) for w in _words(h)), negate)


def _words(h: HostState) -> Iterable[str]:
    """What a bare regex is searched in: the name, the tags and the words the row shows (judged, never raw)."""
    yield h.name
    yield from h.tags
    yield h.reach
    yield from {r.judged for r in h.results}


def parse_filter(text: str) -> FleetFilter:
    """The filter box's text as a :class:`FleetFilter`; a term that does not parse raises :class:`FilterError`."""
    return FleetFilter(text, tuple(_term(w) for w in text.split()))


# -- sorting ------------------------------------------------------------------------------------------

def _status_rank(h: HostState) -> tuple[int, int]:
    """Worst first: unreachable, then a service down, degraded, unknown, then up (ties: more problems first)."""
    if h.reach in UNREACHED:
        return (0, 0)
    worst = h.worst
    bad = -sum(1 for r in h.results if r.judged != "up")
    return (1 + STATUS_ORDER.get(worst or "unknown", 2), bad)


def _figure(name: str) -> Callable[[HostState], float | None]:
    return lambda h: None if h.load is None else getattr(h.load, name)


#: key -> (label, what it sorts on, whether the first press puts the highest first)
SORT_KEYS: dict[str, tuple[str, Callable[[HostState], object], bool]] = {
    "name": ("name", lambda h: h.name.lower(), False),
    "status": ("status", _status_rank, False),
    "cpu": ("CPU", _figure("cpu"), True),
    "mem": ("memory", _figure("mem"), True),
    "load": ("load", _figure("load1"), True),
}


def sort_hosts(hosts: Iterable[HostState], key: str, reverse: bool = False) -> list[HostState]:
    """Hosts in ``key``'s order (busiest or worst first); ``reverse`` flips it. Hosts without the figure go
    last either way (a silent host's missing CPU is not "0 %"); ties keep name order."""
    _label, value, high_first = SORT_KEYS[key]
    by_name = sorted(hosts, key=lambda h: h.name.lower())
    known = [h for h in by_name if value(h) is not None]
    unknown = [h for h in by_name if value(h) is None]
    known.sort(key=value, reverse=high_first != reverse)  # type: ignore[arg-type]
    return known + unknown
