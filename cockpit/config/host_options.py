"""Options of the host-side kinds that read a whole subsystem: ``compose`` projects, ``pm2`` apps, ``log`` checks."""

from __future__ import annotations

import re
from typing import Any

from cockpit.config.source import KeyPath, Reader
from cockpit.spec import CONTAINER_STATES, ComposeCheck, LogCheck, Pm2Check

__all__ = ["read_compose", "read_log", "read_pm2"]

#: a compose project name as Compose accepts it (lowercase letters, digits, _ and -, starting alphanumeric)
_PROJECT = re.compile(r"[a-z0-9][a-z0-9_-]*")
_USER = re.compile(r"[a-z_][a-z0-9_.-]*\$?", re.I)
#: Perl/Python escapes awk's extended regular expressions lack: they would silently match letters
_NOT_ERE = re.compile(r"\\[dDwWsSbB]")


def _one_line(r: Reader, p: KeyPath, value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        r.issue(p, f"{p[-1]} must be one line", "remove the line break")
    return value


def read_compose(r: Reader, p: KeyPath, t: dict[str, Any]) -> ComposeCheck:
    """``compose = "PROJECT"``, an optional ``file``, ``allow`` per container service and ``noncritical``."""
    project = r.string((*p, "compose"), t["compose"], example='"fluxer"')
    if project and not _PROJECT.fullmatch(project):
        r.issue((*p, "compose"), f"{project!r} is not a compose project name",
                "a project name is lowercase letters, digits, _ and -, starting with a letter or digit "
                "(what docker compose -p takes)")
    file = _one_line(r, (*p, "file"), r.string((*p, "file"), t["file"], example='"/srv/fluxer/compose.yml"')) \
        if "file" in t else None
    allow: list[tuple[str, tuple[str, ...]]] = []
    for name, states in (r.table((*p, "allow"), t["allow"]) if "allow" in t else {}).items():
        words = r.strings((*p, "allow", name), states, bare_ok=True, example='["restarting"]')
        for w in words:
            if w not in CONTAINER_STATES:
                r.issue((*p, "allow", name), f"{w!r} is not a container state",
                        f"allow one of {', '.join(CONTAINER_STATES)}")
        allow.append((name, tuple(words)))
    noncritical = tuple(r.strings((*p, "noncritical"), t["noncritical"], bare_ok=True, example='["admin"]')) \
        if "noncritical" in t else ()
    return ComposeCheck(project, file=file or None, allow=tuple(allow), noncritical=noncritical)


def read_pm2(r: Reader, p: KeyPath, t: dict[str, Any]) -> Pm2Check:
    """``pm2 = "APP"`` and ``pm2_user``, the owner of the pm2 daemon (default: the SSH user)."""
    app = _one_line(r, (*p, "pm2"), r.string((*p, "pm2"), t["pm2"], example='"lonestar-chat"'))
    user = None
    if "pm2_user" in t:
        user = r.string((*p, "pm2_user"), t["pm2_user"], example='"deploy"') or None
        if user and not _USER.fullmatch(user):
            r.issue((*p, "pm2_user"), f"{user!r} is not a user name", 'e.g. pm2_user = "deploy"')
    return Pm2Check(app, user=user)


def read_log(r: Reader, p: KeyPath, t: dict[str, Any]) -> LogCheck:
    """``log = "PATTERN"``, exactly one of ``file``, ``unit`` or ``container`` to read it in, and ``since``."""
    pattern = r.string((*p, "log"), t["log"], example="'ERROR|panic'")
    if pattern:
        _one_line(r, (*p, "log"), pattern)
        try:
            re.compile(pattern)
        except re.error as exc:
            r.issue((*p, "log"), f"the pattern does not compile: {exc.msg}",
                    "write a POSIX extended regular expression (as grep -E), in '...' so \\ stays single")
        if (m := _NOT_ERE.search(pattern)) is not None:
            r.issue((*p, "log"), f"{m.group()} is not part of the extended regular expressions awk matches on the host",
                    "write [0-9] for \\d, [A-Za-z0-9_] for \\w, [[:space:]] for \\s")
    sources = [k for k in ("file", "unit", "container") if k in t]
    if len(sources) != 1:
        r.issue((*p, sources[1] if len(sources) > 1 else "log"),
                "a log check reads exactly one of file, unit or container"
                + (f"; it has {', '.join(sources)}" if sources else ""),
                'e.g. file = "/var/log/app.log", unit = "app.service" or container = "api"')
    given = {k: _one_line(r, (*p, k), r.string((*p, k), t[k])) or None for k in sources}
    since = "step"
    if "since" in t:
        since = r.string((*p, "since"), t["since"], "step", example='"baseline"')
        if since not in ("step", "baseline"):
            r.issue((*p, "since"), f'since must be "step" or "baseline", got {t["since"]!r}',
                    'since = "step" (the default) counts from the start of the current step; '
                    'since = "baseline" from the latest baseline (cockpit baseline, or b in the cockpit)')
            since = "step"
    return LogCheck(pattern, since=since, **given)  # type: ignore[arg-type]
