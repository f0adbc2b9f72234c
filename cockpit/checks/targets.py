"""Per-host placeholders in what the cockpit probes itself: ``{host}`` and ``{address}`` in http and tcp targets.

One check across many hosts: ``http = "http://{address}:3001/health"`` probes each host it is
``on`` at that host's own address. The values go into a URL's host (an IPv6 address bracketed)
or a TCP connect, never into a shell, so they are inserted as they are, not shell-quoted.
``{{`` and ``}}`` stand for literal braces, as in commands.
"""

from __future__ import annotations

import re

TARGET_PLACEHOLDERS = ("host", "address")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def target_placeholders(text: str) -> list[str]:
    """Every ``{name}`` in a target (known or not), in order."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(text.replace("{{", "").replace("}}", ""))]


def render_target(text: str, host: str, address: str, *, url: bool) -> str:
    """``text`` for one host; in a URL an IPv6 address is bracketed."""
    values = {"host": host, "address": f"[{address}]" if url and ":" in address else address}
    parts = [p.replace("}}", "\x00") for p in text.split("{{")]
    out = "{".join(_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), p) for p in parts)
    return out.replace("\x00", "}")
