"""The ``[actions]`` tables: a key, a title, hosts and a command (with per-host placeholders)."""

from __future__ import annotations

import re
from typing import Any

from cockpit.config.hosts import name_problem
from cockpit.config.services import read_selectors
from cockpit.config.source import Reader, key_path, suggest
from cockpit.engine import (
    BUILTIN_KEYS,
    PLACEHOLDERS,
    RESERVED_KEYS,
    RUNBOOK_KEYS,
    unknown_placeholders,
)
from cockpit.spec import ActionSpec, HostSpec

__all__ = ["ACTION_KEYS", "read_actions"]

ACTION_KEYS = ("key", "title", "on", "run", "confirm", "timeout", "env")
#: keys as typed in a config -> the name the binding uses
ALIASES = {"/": "slash", "?": "question_mark", "!": "exclamation_mark", ":": "colon"}
_KEY = re.compile(r"^(?:(?:ctrl|shift|alt)\+)*(?:[a-zA-Z0-9]|f[1-9][0-9]?)$")


def builtin_claim(key: str) -> str:
    """What a built-in key is, for the error that refuses it to an action: its binding's name and where it acts."""
    named = BUILTIN_KEYS.get(key) or BUILTIN_KEYS.get(ALIASES.get(key, ""))
    if named is None:
        return f"key {key!r} moves the cursor or the focus: it is taken"
    name, where = named
    kind = "runbook key" if key in RUNBOOK_KEYS else "key"
    return f"key {key!r} is taken by the built-in {kind} {name!r} (where it acts: {where})"


def read_actions(r: Reader, raw: Any, hosts: list[HostSpec]) -> list[ActionSpec]:
    table = r.table(("actions",), raw)
    out: list[ActionSpec] = []
    keys: dict[str, str] = {}
    for name, body in table.items():
        p = ("actions", name)
        if (problem := name_problem(name, "action")) is not None:
            r.issue(p, problem, "use letters, digits, '-', '_' or '.'")
        t = r.table(p, body)
        r.known(p, t, ACTION_KEYS)
        key = r.string((*p, "key"), t.get("key"), example='"t"') if "key" in t else ""
        if not key:
            r.issue((*p, "key"), "an action needs a key", 'e.g. key = "t" (a letter, a digit, f1..f12, ctrl+X)')
        elif not _KEY.match(key):
            r.issue((*p, "key"), f"{key!r} is not a key the cockpit can bind",
                    "use one letter or digit, f1..f12, or a modifier form like ctrl+t")
        elif key in RESERVED_KEYS:
            r.issue((*p, "key"), builtin_claim(key), "choose another key; built-in keys: "
                    + ", ".join(sorted(k for k in RESERVED_KEYS if len(k) == 1 and k.isalnum())))
        elif key in keys:
            first = ("actions", keys[key])
            r.issue((*p, "key"), f"key {key!r} is claimed twice: by [{key_path(first)}] "
                    f"(line {r.locator.line((*first, 'key'))}) and by [{key_path(p)}] (line {r.locator.line((*p, 'key'))})",
                    "give each action its own key")
        else:
            keys[key] = name
        run = r.string((*p, "run"), t.get("run"), example='"systemctl restart nginx"') if "run" in t else ""
        if not run:
            r.issue((*p, "run"), "an action needs a command to run", 'e.g. run = "docker compose restart traefik"')
        for bad in unknown_placeholders(run):
            guess = suggest(bad, PLACEHOLDERS)
            r.issue((*p, "run"), f"unknown placeholder {{{bad}}}",
                    (f"did you mean {{{guess}}}? " if guess else "")
                    + "placeholders: {host} {address} {user} {port}; write {{ and }} for literal braces")
        if "on" not in t:
            r.issue((*p, "on"), "an action needs the hosts it runs on", 'e.g. on = ["csb1"] or on = ["tag:web"]')
        on = read_selectors(r, (*p, "on"), t.get("on", []), hosts)
        timeout = r.duration((*p, "timeout"), t["timeout"], zero_ok=True) if "timeout" in t else 1800.0
        out.append(ActionSpec(
            name=name, key=key, title=r.title((*p, "title"), t.get("title"), default=name) if "title" in t else name,
            on=on, run=run, confirm=r.boolean((*p, "confirm"), t.get("confirm", False)),
            timeout=None if timeout == 0 else timeout,
            env=r.env_table((*p, "env"), t["env"]) if "env" in t else (),
        ))
    return out
