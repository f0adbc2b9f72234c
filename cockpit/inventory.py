"""Host selection: ``name``, ``glob*``, ``tag:X`` and ``all``.

Reading Ansible inventories is part of the config (:mod:`cockpit.config`, ``load_ansible``).
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from cockpit.spec import HostSpec

__all__ = [
    "is_glob",
    "is_valid_selector",
    "select",
    "selector_kind",
]

_GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    """True when ``pattern`` uses fnmatch wildcards."""
    return any(c in _GLOB_CHARS for c in pattern)


def selector_kind(selector: str) -> str:
    """Classify a selector: ``"all"``, ``"tag"``, ``"glob"`` or ``"name"``."""
    if selector == "all":
        return "all"
    if selector.startswith("tag:"):
        return "tag"
    return "glob" if is_glob(selector) else "name"


def is_valid_selector(selector: object) -> bool:
    """A non-empty string without whitespace; ``tag:`` must be followed by a tag."""
    if not isinstance(selector, str) or not selector or selector != selector.strip():
        return False
    if any(c.isspace() for c in selector):
        return False
    return selector != "tag:"


def select(hosts: Sequence[HostSpec], selector: str) -> list[HostSpec]:
    """Hosts matching ``selector``, in the order given.

    ``all`` matches every host; ``tag:X`` hosts with a tag matching ``X`` (a
    glob is allowed); a name with ``* ? [`` is a glob on host names; anything
    else is an exact host name. Matching is case-sensitive.
    """
    kind = selector_kind(selector)
    if kind == "all":
        return list(hosts)
    if kind == "tag":
        pattern = selector[4:]
        return [h for h in hosts if any(fnmatchcase(t, pattern) for t in h.tags)]
    if kind == "glob":
        return [h for h in hosts if fnmatchcase(h.name, selector)]
    return [h for h in hosts if h.name == selector]
