"""Commands against the hosts they run on: every placeholder value they use must be shell-safe.

Checked after hosts, actions and the runbook are read, because only a value that reaches a
placeholder matters: an inventory name no command uses is not refused. The issue points at
where the value came from (the TOML table or the inventory line), with the offending character.
"""

from __future__ import annotations

from collections.abc import Iterator

from cockpit.config.source import KeyPath, Reader, key_path
from cockpit.engine import (
    SECRET_VARS,
    single_quoted_placeholders,
    unsafe_character,
    used_placeholders,
    values_of,
)
from cockpit.errors import ConfigIssue
from cockpit.inventory import select
from cockpit.spec import ActionSpec, HostSpec, RunbookSpec

__all__ = ["check_placeholders"]

_WHAT = {"host": "name", "address": "address", "user": "user", "port": "port"}


def _templates(actions: list[ActionSpec], runbook: RunbookSpec) -> Iterator[tuple[KeyPath, str, tuple[str, ...]]]:
    for a in actions:
        yield ("actions", a.name, "run"), a.run, a.on
    for phase in runbook.phases:
        for step in phase.steps:
            p = ("phases", phase.id, "steps", step.id)
            if step.run:
                yield (*p, "run"), step.run, step.on
            if step.rollback:
                yield (*p, "rollback"), step.rollback, step.on
    for rb in runbook.rollbacks:  # a lone [rollback] is named "quick"; its keys sit directly under [rollback]
        single = len(runbook.rollbacks) == 1 and rb.name == "quick"
        yield (("rollback", "run") if single else ("rollback", rb.name, "run")), rb.run, rb.on


def check_placeholders(r: Reader, hosts: list[HostSpec], actions: list[ActionSpec], runbook: RunbookSpec) -> None:
    """One issue per host and placeholder whose value is unsafe in a shell word (see cockpit.engine)."""
    seen: set[tuple[str, str]] = set()
    seen_quoted: set[tuple[KeyPath, str]] = set()
    for path, template, on in _templates(actions, runbook):
        used = used_placeholders(template)
        if not used:
            continue
        quoted = single_quoted_placeholders(template)
        targets = {h.name: h for sel in on for h in select(hosts, sel)}
        for host in targets.values():
            values = values_of(host)
            for name in sorted(used - {"port"}):
                value = values[name]
                if name in SECRET_VARS and value in r.secrets:
                    if name in quoted and (path, name) not in seen_quoted:
                        seen_quoted.add((path, name))
                        r.issue(path, f"{{{name}}} stands inside '...' but host {host.name!r}'s {name} comes from "
                                      "${ENV}: it is passed as ${" + SECRET_VARS[name] + "}, which single quotes "
                                      "do not expand", f"move {{{name}}} out of the single quotes (\"...\" is fine)")
                    continue
                bad = unsafe_character(value)
                if bad is None or (host.name, name) in seen:
                    continue
                seen.add((host.name, name))
                file, line = host.source or (r.file, None)
                where = f"hosts.{key_path([host.name])}" if file == r.file else f"host {host.name!r}"
                r.issues.append(ConfigIssue(
                    file, where,
                    f"the {_WHAT[name]} of host {host.name!r} holds {bad!r}, which is not safe in a shell command, "
                    f"and {{{name}}} puts it into {key_path(path)}",
                    "use only letters, digits, '.', '_' and '-' (or an IP address) in values that commands use",
                    line))
