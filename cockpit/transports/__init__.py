"""Transports: how commands reach a host. One connection per host, every call with a deadline.

Parts: ``base`` (the :class:`Transport` protocol, :class:`CommandResult`, the remote wrapper), ``ssh``
(asyncssh, host keys, bounded handshakes and channels), ``keepshell`` (the kept ``sh -s``), ``local``, ``stream``.
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
from cockpit.transports.local import LocalTransport
from cockpit.transports.ssh import SshTransport

__all__ = [
    "CommandResult",
    "DEFAULT_MAX_OUTPUT",
    "LocalTransport",
    "OutputCallback",
    "PGID_MARKER",
    "SshTransport",
    "TailBuffer",
    "Transport",
    "wrap_remote",
]
