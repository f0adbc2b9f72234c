"""Rolling a step across its hosts: canary hosts first, in batches, stopping after too many failures."""

from __future__ import annotations

import math
from collections.abc import Sequence

from cockpit.inventory import select
from cockpit.spec import HostSpec, StepSpec


def ordered(step: StepSpec, hosts: list[str], inventory: Sequence[HostSpec]) -> list[str]:
    """The step's hosts, those matching ``order`` selectors first (in selector order), then the rest."""
    out: list[str] = []
    for sel in step.order:
        out += [h.name for h in select(inventory, sel) if h.name in hosts and h.name not in out]
    return out + [h for h in hosts if h not in out]


def batches(step: StepSpec, hosts: list[str]) -> list[list[str]]:
    """All hosts at once, or batches of ``batch`` hosts (an int) or a fraction of them (a float < 1)."""
    if not hosts:
        return []
    if step.batch is None:
        return [hosts]
    if isinstance(step.batch, float) and step.batch <= 1.0:
        size = max(1, math.ceil(len(hosts) * step.batch))
    else:
        size = max(1, int(step.batch))
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]
