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
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from cockpit.inventory import select
from cockpit.secrets import Redactor
from cockpit.spec import Config, HostSpec, RunbookSpec, ServiceSpec, StepSpec

__all__ = [
    "ROLLBACK_PART",
    "PlanChange",
    "PlanVersion",
    "describe_changes",
    "diff_hosts",
    "diff_plans",
    "plan_version",
    "spec_of",
    "version_of",
]

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
    #: (phase id, fingerprint of the phase's own fields: gate, hold, ...) and ("[rollback]", the runbook's
    #: rollback): what a gate result, a hold, an override or a rollback of a phase was decided under
    parts: tuple[tuple[str, str], ...] = ()

    def step(self, ref: str | None) -> str | None:
        """The fingerprint of a step (``phase.step``), or of a phase or ``[rollback]`` (:attr:`parts`)."""
        if not ref:
            return None
        return dict(self.steps).get(ref) or dict(self.parts).get(ref)


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
    return version_of(_canonical(doc))


#: the key of the runbook's rollback among :attr:`PlanVersion.parts` (no phase id has brackets)
ROLLBACK_PART = "[rollback]"


def version_of(text: str) -> PlanVersion:
    """The version whose normalised text is ``text`` (as :func:`plan_version` made it, or as the journal
    keeps it): the same fingerprints, so a plan loaded from the journal is the driver's very version."""
    doc = json.loads(text)
    phases = doc["phases"]
    steps = tuple((f"{p['id']}.{s['id']}", _hash(s)) for p in phases for s in p["steps"])
    parts = tuple((p["id"], _hash({k: v for k, v in p.items() if k != "steps"})) for p in phases)
    parts += ((ROLLBACK_PART, _hash(doc["runbook"].get("rollback"))),)
    return PlanVersion(_hash(doc), text, steps, parts)


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
    if c := _fields(old.get("runbook") or {}, new.get("runbook") or {}, ()):
        out.append(dataclasses.replace(c, target="runbook"))
    out += _named_changes("services", old.get("services") or [], new.get("services") or [])
    return out


def _named_changes(kind: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[PlanChange]:
    """Services or hosts added, removed or changed (by name; the fields that changed, old -> new)."""
    was, now = {x["name"]: x for x in old}, {x["name"]: x for x in new}
    out: list[PlanChange] = []
    for name in [*now, *(n for n in was if n not in now)]:
        a, b = was.get(name), now.get(name)
        if a is None or b is None:
            out.append(PlanChange("added" if a is None else "removed", f"{kind}.{name}"))
        elif c := _fields(a, b, ()):
            out.append(dataclasses.replace(c, target=f"{kind}.{name}"))
    return out


def diff_hosts(old: Config, new: Config) -> list[PlanChange]:
    """Hosts added, removed or changed (address, port, user, tags, transport, ...) between two configs, and
    hosts whose services changed (``services``: the names checked there). Secrets masked; the line a host
    was declared on is not a change."""
    redactor = Redactor(new.secrets)

    def plain(c: Config) -> list[dict[str, Any]]:
        out = []
        for h in c.hosts:
            d = _plain(dataclasses.replace(h, source=None), redactor)
            d.pop("source", None)
            d["services"] = [s.name for s in c.services_on(h.name)]
            out.append(d)
        return out

    return _named_changes("hosts", plain(old), plain(new))


def describe_changes(changes: list[PlanChange]) -> str:
    """One line per change, for messages: "changed decommission.stop (command); added cutover.dns"."""
    return "; ".join(f"{c.what} {c.target}" + (f" ({', '.join(c.fields)})" if c.fields else "") for c in changes)


def spec_of(text: str) -> tuple[RunbookSpec, tuple[ServiceSpec, ...]]:
    """The runbook and services of a plan version's normalised text, as frozen spec objects again.

    How an observer loads the driver's plan from the journal in place. Secrets stay masked (``***``): a plan
    loaded so is for watching, never for running (:meth:`cockpit.session.Session.take_over` says so).
    """
    doc = json.loads(text)
    runbook = dict(doc["runbook"])
    runbook["phases"] = doc["phases"]
    services = tuple(_decode(ServiceSpec, s) for s in doc.get("services", []))
    return _decode(RunbookSpec, runbook), services  # type: ignore[return-value]


def _decode(tp: Any, value: Any) -> Any:
    """A JSON value (as :func:`_plain` made it) back into the type ``tp`` of a spec field."""
    if value is None:
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = get_type_hints(tp)
        return tp(**{f.name: _decode(hints[f.name], value[f.name]) for f in dataclasses.fields(tp)
                     if f.init and f.name in value})
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if isinstance(value, dict) and len(members) > 1:  # a check: the member whose kind it names
            kinds = {getattr(a, "__dataclass_fields__", {}).get("kind", None): a for a in members}
            return _decode(next(a for k, a in kinds.items() if k is not None and k.default == value.get("kind")),
                           value)
        for a in members:  # scalars: the first member the value already is (int before float: 2 stays 2)
            if a in (bool, int, float, str) and type(value) is a:
                return value
        return _decode(members[0], value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value))
    if origin in (frozenset, set):
        return frozenset(_decode(args[0], v) for v in value)
    if origin is Literal or tp is Any or tp is typing.Any:
        return value
    if tp is Path:
        return Path(value)
    if tp is float and isinstance(value, int):
        return float(value)
    return value
