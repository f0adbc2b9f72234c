"""The fleet filter language and sort keys, term by term, on snapshots (docs/ui.md, "Filter and sort").

A fleet of five hosts covers every term: a host whose retired service is down (judged up: the old ``/down``
substring filter listed it), one with a service down, one degraded, one unreachable, one with an auth failure.
"""

from __future__ import annotations

import pytest

from cockpit.errors import FilterError
from cockpit.fleetquery import parse_filter, sort_hosts
from cockpit.model import CheckResult, HostState, Load


def svc(host: str, name: str, status: str, expect: str = "up") -> CheckResult:
    return CheckResult(name, host, "systemd", status, "", None, 0.0, expect=expect)  # type: ignore[arg-type]


def load(cpu: float | None, mem: float | None, load1: float | None) -> Load:
    return Load(at=0.0, cpu=cpu, mem=mem, load1=load1, ncpu=2)


FLEET = [
    HostState("eu-web1", "ok", tags=("eu", "web"), load=load(20, 50, 0.5),
              results=(svc("eu-web1", "nginx", "up"), svc("eu-web1", "agent-v1", "down", expect="down"))),
    HostState("eu-db1", "ok", tags=("eu", "db"), load=load(80, 30, 3.0),
              results=(svc("eu-db1", "redis", "down"), svc("eu-db1", "postgres", "up"))),
    HostState("us-web2", "ok", tags=("us", "web"), load=load(55, 90, 1.5),
              results=(svc("us-web2", "nginx", "degraded"),)),
    HostState("us-cache", "unreachable", tags=("us",), error="refused: connection refused",
              load=load(5, 10, 0.1), results=(svc("us-cache", "redis", "unknown"),)),
    HostState("ap-lb", "auth-failed", tags=("ap",), results=()),
]


def names(text: str) -> list[str]:
    return [h.name for h in parse_filter(text).select(FLEET)]


@pytest.mark.parametrize(("text", "expected"), [
    ("", ["eu-web1", "eu-db1", "us-web2", "us-cache", "ap-lb"]),
    # status: judged, as the Services column shows it (eu-web1's retired agent-v1 is down, and that is fine)
    ("status:down", ["eu-db1"]),
    ("status:DOWN", ["eu-db1"]),
    ("status:degraded", ["us-web2"]),
    ("status:unknown", ["us-cache"]),
    ("status:up", ["eu-web1"]),
    ("status:unreachable", ["us-cache", "ap-lb"]),
    ("status:auth-failed", ["ap-lb"]),
    ("status:ok", ["eu-web1", "eu-db1", "us-web2"]),
    # tag: exact or a glob, any case
    ("tag:eu", ["eu-web1", "eu-db1"]),
    ("tag:EU", ["eu-web1", "eu-db1"]),
    ("tag:w*", ["eu-web1", "us-web2"]),
    ("tag:e", []),
    # svc: a service of that name is checked there
    ("svc:redis", ["eu-db1", "us-cache"]),
    ("svc:post*", ["eu-db1"]),
    # a regular expression in the name and the tags
    ("web", ["eu-web1", "us-web2"]),
    ("^us-", ["us-web2", "us-cache"]),
    (r"web[12]$", ["eu-web1", "us-web2"]),
    ("DB", ["eu-db1"]),
    ("down", ["eu-db1"]),  # the old substring filter listed eu-web1 too (its retired agent-v1 is down: fine)
    ("refused|auth", ["ap-lb"]),  # the reach word, not the error text
    # ! inverts one term
    ("!status:up", ["eu-db1", "us-web2", "us-cache", "ap-lb"]),
    ("!tag:eu", ["us-web2", "us-cache", "ap-lb"]),
    ("!web", ["eu-db1", "us-cache", "ap-lb"]),
    # terms combine: all must hold
    ("tag:eu status:down", ["eu-db1"]),
    ("svc:redis !status:unreachable", ["eu-db1"]),
    ("tag:us svc:nginx", ["us-web2"]),
    ("tag:eu  !svc:redis   web", ["eu-web1"]),
])
def test_each_term_and_combinations(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("status:sideways", "status:sideways is not a status"),
    ("tag:", "needs a value"),
    ("!", "inverts nothing"),
    ("web[", "is not a regular expression"),
])
def test_a_bad_term_names_itself_and_the_fix(text: str, says: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(text)
    assert says in err.value.message and err.value.hint


@pytest.mark.parametrize(("key", "first", "reverse_first"), [
    ("name", ["ap-lb", "eu-db1", "eu-web1", "us-cache", "us-web2"], ["us-web2", "us-cache", "eu-web1", "eu-db1", "ap-lb"]),
    ("status", ["ap-lb", "us-cache", "eu-db1", "us-web2", "eu-web1"], ["eu-web1", "us-web2", "eu-db1", "ap-lb", "us-cache"]),
    ("cpu", ["eu-db1", "us-web2", "eu-web1", "us-cache", "ap-lb"], ["us-cache", "eu-web1", "us-web2", "eu-db1", "ap-lb"]),
    ("mem", ["us-web2", "eu-web1", "eu-db1", "us-cache", "ap-lb"], ["us-cache", "eu-db1", "eu-web1", "us-web2", "ap-lb"]),
    ("load", ["eu-db1", "us-web2", "eu-web1", "us-cache", "ap-lb"], ["us-cache", "eu-web1", "us-web2", "eu-db1", "ap-lb"]),
])
def test_sort_keys_and_reversal(key: str, first: list[str], reverse_first: list[str]) -> None:
    """Figures busiest first, status worst first, names A to Z; a host without the figure (ap-lb) goes last
    both ways; ties keep name order both ways."""
    assert [h.name for h in sort_hosts(FLEET, key)] == first
    assert [h.name for h in sort_hosts(FLEET, key, reverse=True)] == reverse_first
