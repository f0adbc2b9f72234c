"""The terms every condition is built of: a service target, a comparison and a quantity with its unit.

Their own module so that the function families (``parser``, ``resources``) share them without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Cmp", "FACTOR", "LoadStat", "Quantity", "Target", "Unit"]

Cmp = Literal["<", "<=", ">", ">=", "==", "!="]
Unit = Literal["", "ms", "s", "m", "h", "%", "KB", "MB", "GB"]

FACTOR: dict[str, float] = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "%": 1.0,
                            "KB": 1024.0, "MB": 1024.0**2, "GB": 1024.0**3}


@dataclass(frozen=True)
class Target:
    """A service, optionally restricted to the hosts a selector matches."""

    service: str
    selector: str | None = None

    @property
    def text(self) -> str:
        return self.service + (f"@{self.selector}" if self.selector else "")


@dataclass(frozen=True)
class Quantity:
    """A number with its unit as written (KiB is stored as KB); ``value`` is in seconds, percent or bytes."""

    number: float
    unit: Unit = ""

    @property
    def value(self) -> float:
        return self.number * FACTOR[self.unit]


@dataclass(frozen=True)
class LoadStat:
    """``cpu(SEL) < 80%`` or ``mem(SEL) < 90%``: the latest load of each matching host.

    A selector that names a service is judged as that service's own resources (``conditions.resources``).
    """

    func: Literal["cpu", "mem"]
    selector: str
    op: Cmp
    limit: Quantity
