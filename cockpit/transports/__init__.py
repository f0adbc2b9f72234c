"""Transports: how commands reach a host. One connection per host, every call with a deadline.

Parts: ``base`` (the :class:`Transport` protocol, :class:`CommandResult`, the remote wrapper), ``ssh``
(asyncssh, host keys, bounded handshakes and channels), ``keepshell`` (the kept ``sh -s``), ``limits`` (handshakes per sshd, per jump host, per machine; the pool
of jump connections), ``route`` (address, port and jump chain after the ssh_config), ``local``, ``stream``.
"""

from __future__ import annotations

from cockpit.transports.base import (
    DEFAULT_MAX_OUTPUT,
    PGID_MARKER,
    CommandResult,
    OutputCallback,
    TailBuffer,
    Transport,
    wrap_remote,
)
from cockpit.transports.limits import HandshakeLimits, LimitsView, SshPool
from cockpit.transports.local import LocalTransport
from cockpit.transports.route import Route
from cockpit.transports.ssh import SshTransport

__all__ = [
    "CommandResult",
    "DEFAULT_MAX_OUTPUT",
    "HandshakeLimits",
    "LimitsView",
    "LocalTransport",
    "OutputCallback",
    "PGID_MARKER",
    "Route",
    "SshPool",
    "SshTransport",
    "TailBuffer",
    "Transport",
    "wrap_remote",
]
