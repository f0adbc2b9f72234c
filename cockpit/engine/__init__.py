"""The engine: one poller per host, rounds that never overlap, immutable snapshots, and the ActionRunner.

Parts: ``scheduler`` (:class:`Engine`), ``rounds`` (one host's round of checks), ``load`` (load samples
and their history), ``actions`` (firing commands across hosts with output streamed).
"""

from __future__ import annotations

from cockpit.engine.actions import PLACEHOLDERS, RESERVED_KEYS, ActionRun, HostRun, render_command, unknown_placeholders
from cockpit.engine.load import LoadTracker, load_snippet
from cockpit.engine.scheduler import Engine

__all__ = [
    "ActionRun",
    "Engine",
    "HostRun",
    "LoadTracker",
    "PLACEHOLDERS",
    "RESERVED_KEYS",
    "render_command",
    "load_snippet",
    "unknown_placeholders",
]
