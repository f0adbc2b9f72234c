"""Where a host's SSH connection goes: the address and port after the ssh_config, and its jump hosts.

The handshake limits are keyed by it (sshd's MaxStartups is per destination sshd) and ProxyJump hosts
share one connection per jump chain, so both need the route before connecting. It is resolved with
asyncssh's own config parser, so it is what ``asyncssh.connect`` would do with the same file.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 22
#: jump chains nested deeper than this through the ssh_config (a jump host with its own ProxyJump) are a loop
MAX_JUMP_DEPTH = 8


@dataclass(frozen=True)
class Route:
    """A host's destination sshd and the jump chain in front of it (``None``: connected directly)."""

    host: str
    port: int
    proxy_jump: str | None = None

    @property
    def dest(self) -> tuple[str, int]:
        return (self.host, self.port)


def split_jump(chain: str) -> tuple[str, str | None]:
    """``"a,b,c"`` → (``"c"``, ``"a,b"``): the last hop, and the chain that leads to it (OpenSSH's order)."""
    hops = [h.strip() for h in chain.split(",") if h.strip()]
    if not hops:
        return "", None
    return hops[-1], ",".join(hops[:-1]) or None


def parse_hop(hop: str) -> tuple[str | None, str, int | None]:
    """``[user@]host[:port]`` of a ProxyJump hop (``ssh://`` URLs too) → (user, host, port)."""
    hop = hop.removeprefix("ssh://")
    user, _, hostport = hop.rpartition("@")
    host, port = hostport, None
    if hostport.startswith("["):  # [v6]:port
        inner, _, rest = hostport[1:].partition("]")
        host = inner
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif hostport.count(":") == 1:
        name, _, p = hostport.partition(":")
        if p.isdigit():
            host, port = name, int(p)
    return user or None, host, port


def resolve_route(address: str, port: int | None, user: str | None, proxy_jump: str | None,
                  config_path: Path | None) -> Route:
    """The route of one host: ``HostName``/``Port``/``ProxyJump`` from the ssh_config where it sets them.

    ``proxy_jump`` (a host's own field) wins over the config's, as ``ssh -J`` does; ``"none"`` means
    direct. An unreadable config falls back to the address itself (connect reports the config).
    """
    host, cfg_port, cfg_jump = address, None, None
    if config_path is not None:
        try:
            from asyncssh.config import SSHClientConfig

            cfg = SSHClientConfig.load(None, [str(config_path)], False, False, False, getpass.getuser(),
                                       user or (), address, port or ())
            host = str(cfg.get("Hostname", address) or address)
            value = cfg.get("Port")
            cfg_port = int(value) if isinstance(value, int) else None
            jump = cfg.get("ProxyJump")
            cfg_jump = str(jump) if jump else None
        except (OSError, ValueError):  # an unreadable config (ConfigParseError is a ValueError): connect reports it
            host, cfg_port, cfg_jump = address, None, None
    jump_text = proxy_jump if proxy_jump is not None else cfg_jump
    if jump_text is not None and jump_text.strip().lower() in ("", "none"):
        jump_text = None
    return Route(host=host, port=port or cfg_port or DEFAULT_PORT, proxy_jump=jump_text)
