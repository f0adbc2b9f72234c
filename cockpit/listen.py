"""Where the cockpit listens (the metrics endpoint, the browser view) and the token that guards it.

Loopback needs no token. Any other address refuses to start without one, and the token is read
from an environment variable or a file only readable by its owner (mode 0600 or stricter): never
from the command line, where ``ps`` shows it to every user of the machine. Every request is then
checked with a constant-time comparison of ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cockpit.errors import UsageError

__all__ = ["authorized", "is_loopback", "load_token", "parse_listen", "require_token"]


def parse_listen(text: str, default_port: int) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST``, ``:PORT`` or ``[V6]:PORT`` into (host, port); a clear error otherwise."""
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    host = host or "127.0.0.1"
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--listen {text!r}: the port must be a number from 1 to 65535",
                         f"e.g. --listen 127.0.0.1:{default_port}")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any 127.0.0.0/8 or ::1 address; names other than localhost are not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_token(env_name: str | None, file: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The token from ``$env_name`` or from ``file`` (owner-only permissions); None when neither is given."""
    if env_name and file:
        raise UsageError("give the token either from an environment variable or from a file, not both")
    if env_name:
        value = (os.environ if environ is None else environ).get(env_name, "")
        if not value.strip():
            raise UsageError(f"token variable {env_name} is not set or empty", f"export {env_name}=… before starting")
        return value.strip()
    if file:
        path = Path(file)
        try:
            mode = path.stat().st_mode
            text = path.read_text()
        except OSError as e:
            raise UsageError(f"token file {file}: {e.strerror or e}", "create it with: install -m 600 /dev/null FILE") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError(f"token file {file} is readable by others (mode {stat.S_IMODE(mode):o})",
                             f"chmod 600 {file}")
        if not text.strip():
            raise UsageError(f"token file {file} is empty", "write the token into it")
        return text.strip()
    return None


def require_token(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token."""
    if token is None and not is_loopback(host):
        raise UsageError(f"listening on {host} (beyond loopback) needs a token",
                         "give it with --token-env NAME or --token-file FILE (mode 600), never on the command line")


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries the token (always true when no token is set)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
