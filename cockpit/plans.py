"""Plan versions: a stable fingerprint of the runbook, one per step, and the diff between two versions.

Operators edit the runbook mid-cutover. Every journaled decision carries the fingerprint of the plan it was
made under and of the step it concerns, and the journal keeps each version's normalised text once, so a
step id never silently points at a different command than the one that ran.

The normalised text is canonical JSON (sorted keys, no whitespace) of the runbook (phases, steps, gates,
rollbacks, thresholds), the services the conditions judge and, per step, the hosts its selectors resolve
to (name, address, port, user). Secrets are masked (``***``) before hashing and storing: a changed secret
does not change the plan, and no secret reaches the journal. A shared module: it imports no area.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cockpit.inventory import select
from cockpit.secrets import Redactor
from cockpit.spec import Config, HostSpec, StepSpec

__all__ = ["PlanChange", "PlanVersion", "describe_changes", "diff_plans", "plan_version"]

#: fields of a step whose change is named in a diff (the rest are shown as "other")
NAMED = (("run", "command"), ("hosts", "hosts"), ("batch", "batch"), ("verify", "verify"),
         ("rollback", "rollback"), ("order", "order"), ("pause", "pause"), ("max_failures", "max_failures"))


def _hash(obj: object) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:12]


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(obj: Any, redactor: Redactor) -> Any:
    """Dataclasses, tuples and paths as JSON values, every string with its secrets masked."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name), redactor) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list, frozenset, set)):
        return [_plain(x, redactor) for x in obj]
    if isinstance(obj, str):
        return redactor.redact(obj)
    if obj is None or isinstance(obj, (bool, int, float)):
        return obj
    return redactor.redact(str(obj))


def _hosts(config: Config, step_on: tuple[str, ...]) -> list[list[object]]:
    seen: list[HostSpec] = []
    for sel in step_on:
        seen += [h for h in select(config.hosts, sel) if h not in seen]
    return [[h.name, h.address, h.port, h.user] for h in seen]


def _step(config: Config, step: StepSpec, redactor: Redactor) -> dict[str, Any]:
    d = _plain(step, redactor)
    d["hosts"] = _hosts(config, step.on)
    return d  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PlanVersion:
    """One version of the plan: its fingerprint, its normalised text and each step's own fingerprint."""

    fingerprint: str
    text: str
    steps: tuple[tuple[str, str], ...]  # (phase.step, fingerprint), in plan order

    def step(self, ref: str | None) -> str | None:
        return dict(self.steps).get(ref) if ref else None


def plan_version(config: Config) -> PlanVersion:
    """The plan of ``config`` as one normalised, fingerprinted version."""
    redactor = Redactor(config.secrets)
    rb = config.runbook
    phases = []
    for p in rb.phases:
        d = _plain(dataclasses.replace(p, steps=()), redactor)
        d["steps"] = [_step(config, s, redactor) for s in p.steps]
        phases.append(d)
    top = {f.name: _plain(getattr(rb, f.name), redactor) for f in dataclasses.fields(rb) if f.name != "phases"}
    for i, named in enumerate(rb.rollbacks):
        top["rollbacks"][i]["hosts"] = _hosts(config, named.on)
    doc = {"phases": phases, "runbook": top, "services": [_plain(s, redactor) for s in config.services]}
    steps = tuple((f"{p['id']}.{s['id']}", _hash(s)) for p in phases for s in p["steps"])
    return PlanVersion(_hash(doc), _canonical(doc), steps)


@dataclass(frozen=True)
class PlanChange:
    """One difference between two plan versions, by phase and step."""

    what: str  # "added", "removed", "changed"
    target: str  # "phase.step", or "phase" for a phase's own fields, or "runbook" / "services"
    fields: tuple[str, ...] = ()  # for "changed": command, hosts, batch, gate, verify, ...
    lines: tuple[str, ...] = ()  # "command: 'old' -> 'new'" (secrets already masked)

    def render(self) -> str:
        head = f"{self.what} {self.target}" + (f" ({', '.join(self.fields)})" if self.fields else "")
        return head + "".join(f"\n    {line}" for line in self.lines)


def _short(value: object) -> str:
    text = value if isinstance(value, str) else _canonical(value)
    return repr(text if len(text) <= 120 else text[:117] + "...")


def _fields(old: dict[str, Any], new: dict[str, Any], named: tuple[tuple[str, str], ...]) -> PlanChange | None:
    fields, lines = [], []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key) or key == "steps":
            continue
        label = dict(named).get(key, key)
        if key == "hosts":
            o = [h[0] for h in old.get(key) or []]
            n = [h[0] for h in new.get(key) or []]
            lines.append(f"hosts: {', '.join(o) or '-'} -> {', '.join(n) or '-'}" if o != n
                         else "hosts: an address, port or user changed")
        else:
            lines.append(f"{label}: {_short(old.get(key))} -> {_short(new.get(key))}")
        fields.append(label)
    return PlanChange("changed", "", tuple(fields), tuple(lines)) if fields else None


def diff_plans(old_text: str, new_text: str) -> list[PlanChange]:
    """What changed from one normalised plan text to another: steps added, removed or changed, in plan order."""
    old, new = json.loads(old_text), json.loads(new_text)
    out: list[PlanChange] = []
    old_phases = {p["id"]: p for p in old["phases"]}
    new_phases = {p["id"]: p for p in new["phases"]}
    for pid in [*new_phases, *(p for p in old_phases if p not in new_phases)]:
        po, pn = old_phases.get(pid), new_phases.get(pid)
        if po is None or pn is None:
            out.append(PlanChange("added" if po is None else "removed", pid))
        elif c := _fields(po, pn, (("gate", "gate"),)):
            out.append(dataclasses.replace(c, target=pid))
        so = {s["id"]: s for s in (po or {}).get("steps", [])}
        sn = {s["id"]: s for s in (pn or {}).get("steps", [])}
        for sid in [*sn, *(s for s in so if s not in sn)]:
            a, b = so.get(sid), sn.get(sid)
            if a is None or b is None:
                out.append(PlanChange("added" if a is None else "removed", f"{pid}.{sid}"))
            elif c := _fields(a, b, NAMED):
                out.append(dataclasses.replace(c, target=f"{pid}.{sid}"))
    for key in ("runbook", "services"):
        if old.get(key) != new.get(key):
            out.append(PlanChange("changed", key, (key,)))
    return out


def describe_changes(changes: list[PlanChange]) -> str:
    """One line per change, for messages: "changed decommission.stop (command); added cutover.dns"."""
    return "; ".join(f"{c.what} {c.target}" + (f" ({', '.join(c.fields)})" if c.fields else "") for c in changes)
