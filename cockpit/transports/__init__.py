"""Transports: how commands reach a host. One connection per host, every call with a deadline.

Parts: ``base`` (the :class:`Transport` protocol, :class:`CommandResult`, the remote wrapper), ``ssh``
(asyncssh, host keys, bounded handshakes and channels), ``sshconfig`` (the ssh_config read as OpenSSH reads it,
once per change), ``keepshell`` (the kept ``sh -s``), ``limits`` (handshakes per sshd, per jump host and
per machine; the pool of shared jump connections), ``local``, ``stream``.
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
from cockpit.transports.ssh import SshTransport
from cockpit.transports.sshconfig import (
    ResolvedSsh,
    Sourced,
    SshConfigFile,
    load_ssh_config,
    resolve_host,
    resolve_ssh,
)

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "PGID_MARKER",
    "CommandResult",
    "HandshakeLimits",
    "LimitsView",
    "LocalTransport",
    "OutputCallback",
    "ResolvedSsh",
    "Sourced",
    "SshConfigFile",
    "SshPool",
    "SshTransport",
    "TailBuffer",
    "Transport",
    "load_ssh_config",
    "resolve_host",
    "resolve_ssh",
    "wrap_remote",
]
