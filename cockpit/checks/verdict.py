"""What judging one check's answer gives: a status, one actionable line, figures, and named parts.

Its own module so that every kind's judge (remote, compose, pm2, log) can build one without
importing the module that dispatches between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.model import Status

Extra = tuple[tuple[str, "float | int | str"], ...]


@dataclass(frozen=True)
class Part:
    """One named part of a check (a compose project's container service): shown and judged on its own."""

    name: str
    status: Status
    detail: str
    extra: Extra = ()
    critical: bool = True


@dataclass(frozen=True)
class Verdict:
    status: Status
    detail: str
    extra: Extra = ()
    parts: tuple[Part, ...] = ()


def restarts_rose(status: Status, detail: str, now: int | None, before: int | None,
                  allowed: bool = False) -> tuple[Status, str]:
    """A restart count that rose since the last round is a finding, even if the thing looks up right now.

    A crash loop is mostly seen between two rounds, not at the instant it is "restarting".
    """
    if now is None or before is None or now <= before or allowed or status != "up":
        return status, detail
    n = now - before
    return "degraded", f"restarted {n} time{'s' if n != 1 else ''} since the last round; {detail}"
