"""Per-host placeholders in commands (``{host}`` ``{address}`` ``{user}`` ``{port}``), safe by construction.

``shlex.quote`` is only safe where the placeholder stands unquoted: inside ``'...'``,
``"..."``, backticks or ``$(...)`` a quoted value can still break out. So a value that
reaches a placeholder must be made of ``[A-Za-z0-9._-]`` or be an IP literal: such a
value means the same thing in every quoting context. The config refuses anything
else at load (naming where the value came from); :func:`render_command` refuses it
again at run time, for commands typed in the cockpit.

A value that came from ``${ENV}`` (a secret) is not pasted into the command: the
command gets ``${COCKPIT_ADDRESS}`` / ``${COCKPIT_USER}`` and the value travels in the
command's environment on stdin (see :mod:`cockpit.sudo`), never in an argv.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection

from cockpit.errors import PlaceholderError
from cockpit.secrets import SHOWN_MASK, Redactor
from cockpit.spec import HostSpec

__all__ = [
    "PLACEHOLDERS", "SECRET_VARS", "placeholder_env", "preview_command", "render_command", "single_quoted_placeholders",
    "unknown_placeholders", "unsafe_character", "used_placeholders", "values_of",
]

PLACEHOLDERS = ("host", "address", "user", "port")
#: the variable a secret placeholder value travels in
SECRET_VARS = {"address": "COCKPIT_ADDRESS", "user": "COCKPIT_USER"}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def unsafe_character(value: str) -> str | None:
    """The first character that makes ``value`` unsafe in a shell word, or None when it is safe."""
    if not value or _SAFE.fullmatch(value):  # empty: a {user} not set, substituted as nothing
        return None
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    return next((c for c in value if not _SAFE.fullmatch(c)), value[0])


def values_of(host: HostSpec) -> dict[str, str]:
    """What each placeholder stands for on ``host``."""
    return {"host": host.name, "address": host.address, "user": host.user or "", "port": str(host.port or 22)}


def _segments(template: str) -> list[str]:
    """The template split at ``{{``; ``}}`` in each part becomes NUL (a literal brace, restored later)."""
    return [p.replace("}}", "\x00") for p in template.split("{{")]


def used_placeholders(template: str) -> set[str]:
    """The known placeholders ``template`` uses."""
    return {m.group(1) for p in _segments(template) for m in _PLACEHOLDER.finditer(p)
            if m.group(1) in PLACEHOLDERS}


def unknown_placeholders(template: str) -> list[str]:
    """Names in ``{...}`` that are not placeholders (a config error: probably a typo)."""
    stripped = template.replace("{{", "").replace("}}", "")
    return [m.group(1) for m in _PLACEHOLDER.finditer(stripped) if m.group(1) not in PLACEHOLDERS]


def single_quoted_placeholders(template: str) -> set[str]:
    """Placeholders that stand inside ``'...'`` (where a ``${VAR}`` would not expand)."""
    out: set[str] = set()
    quote = ""
    i = 0
    while i < len(template):
        c = template[i]
        if quote != "'" and c == "\\":
            i += 2
            continue
        if c == "'" and quote in ("", "'"):
            quote = "" if quote else "'"
        elif c == '"' and quote in ("", '"'):
            quote = "" if quote else '"'
        elif quote == "'" and (m := _PLACEHOLDER.match(template, i)) and m.group(1) in PLACEHOLDERS:
            out.add(m.group(1))
        i += 1
    return out


def preview_command(template: str, host: HostSpec, redactor: Redactor) -> str:
    """The command as it will run on ``host``, for a person to read: every placeholder filled, a secret
    value (and any secret in the text) shown as ``••••``; a confirmation and ``--dry-run`` show this.

    Raises:
        PlaceholderError: as :func:`render_command` (the command would be refused).
    """
    command = render_command(template, host, redactor.secrets)
    for name, var in SECRET_VARS.items():
        if "${" + var + "}" in command and var not in template:  # filled here, not the template's own text
            command = command.replace("${" + var + "}", SHOWN_MASK)
    return redactor.redact(command, SHOWN_MASK)


def render_command(template: str, host: HostSpec, secrets: Collection[str] = ()) -> str:
    """Substitute the placeholders for ``host``; ``{{`` and ``}}`` are braces.

    Raises:
        PlaceholderError: a value used is not shell-safe (see the module doc).
    """
    values = values_of(host)

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            return m.group(0)
        value = values[name]
        if name in SECRET_VARS and value in secrets:
            return "${" + SECRET_VARS[name] + "}"
        bad = unsafe_character(value)
        if bad is not None:
            raise PlaceholderError(
                f"{{{name}}} of host {host.name!r} holds {bad!r}, which is not safe in a shell command",
                "placeholder values may only use letters, digits, '.', '_' and '-' (or be an IP address); "
                "rename the host or write the value into the command yourself")
        return value

    return "{".join(_PLACEHOLDER.sub(sub, p) for p in _segments(template)).replace("\x00", "}")


def placeholder_env(template: str, host: HostSpec, secrets: Collection[str]) -> dict[str, str]:
    """The environment :func:`render_command` relies on: secret placeholder values by variable name."""
    values = values_of(host)
    return {SECRET_VARS[n]: values[n] for n in used_placeholders(template)
            if n in SECRET_VARS and values[n] in secrets}
