"""What validate checks of the resource functions in conditions: each names something that can answer.

``cpu(X)``/``mem(X)`` read a service when X is one: its kind must be one whose cgroup or processes the
cockpit can find on the host. A name that is both a service and a host selector is refused (which one is
meant would be a guess). ``disk(SEL, "/path")`` needs the path among each matched host's ``mounts``, the only
filesystems the cockpit samples.
"""

from __future__ import annotations

from cockpit.checks import NO_RESOURCES, locator
from cockpit.conditions import Refs
from cockpit.inventory import is_valid_selector, select
from cockpit.spec import HostSpec, ServiceSpec

__all__ = ["resource_issues", "service_names"]

#: (message, fix) of one problem found
Issue = tuple[str, str]
_READERS = "a systemd, docker, compose, pm2 or process service"


def service_names(refs: Refs, services: dict[str, ServiceSpec]) -> set[str]:
    """The cpu()/mem() arguments that name services (so they are not host selectors)."""
    return {name for func, name, _ in refs.resources if func != "rss" and name in services}


def resource_issues(text: str, refs: Refs, services: dict[str, ServiceSpec], hosts: list[HostSpec]) -> list[Issue]:
    """Every problem of the condition's resource functions, as (message, fix)."""
    issues: list[Issue] = []
    for func, name, explicit in sorted(refs.resources):
        svc = services.get(name)
        if func == "rss" or svc is None:
            continue
        if not explicit and is_valid_selector(name) and select(hosts, name):
            issues.append((f"condition {text!r}: {func}({name}) is ambiguous: {name!r} is a service and also "
                           "selects hosts", f"write {func}({name}@all) for the service, or tag:NAME for the hosts"))
            continue
        if locator(svc.check) is None:
            why = NO_RESOURCES.get(svc.check.kind, f"a {svc.check.kind} check names no process")
            issues.append((f"condition {text!r}: {func}({name}) reads a service's cgroup or processes on its host, "
                           f"but {name!r} is a {svc.check.kind} check: {why}",
                           f"point {func}() at {_READERS}, or at hosts (e.g. {func}(tag:web))"))
    for sel, path in sorted(refs.disks):
        missing = [h.name for h in (select(hosts, sel) if is_valid_selector(sel) else []) if path not in h.mounts]
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            issues.append((f"condition {text!r}: disk() reads only a host's sampled mounts, and {path!r} is not "
                           f"among the mounts of {shown}",
                           f'add "{path}" to mounts of [hosts.{missing[0]}]' + (" (and the others)" if len(missing) > 1
                                                                                else "")))
    return issues
