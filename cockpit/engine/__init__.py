"""The engine: one poller per host, rounds that never overlap, immutable snapshots, and the ActionRunner.

Parts: ``scheduler`` (:class:`Engine`), ``rounds`` (one host's round of checks), ``load`` (load samples
and their history), ``actions`` (firing commands across hosts with output streamed), ``placeholders``
(shell-safe per-host values, and the command as a person reads it), ``spool`` (output files).
"""

from __future__ import annotations

from cockpit.engine.actions import (
    BUILTIN_KEYS,
    RESERVED_KEYS,
    RUNBOOK_KEYS,
    ActionRun,
    HostRun,
)
from cockpit.engine.load import LoadTracker, load_snippet
from cockpit.engine.placeholders import (
    PLACEHOLDERS,
    SECRET_VARS,
    placeholder_env,
    preview_command,
    render_command,
    single_quoted_placeholders,
    unknown_placeholders,
    unsafe_character,
    used_placeholders,
    values_of,
)
from cockpit.engine.scheduler import Engine
from cockpit.engine.spool import read_tail

__all__ = [
    "ActionRun",
    "BUILTIN_KEYS",
    "Engine",
    "HostRun",
    "LoadTracker",
    "PLACEHOLDERS",
    "RESERVED_KEYS",
    "RUNBOOK_KEYS",
    "SECRET_VARS",
    "load_snippet",
    "placeholder_env",
    "preview_command",
    "read_tail",
    "render_command",
    "single_quoted_placeholders",
    "unknown_placeholders",
    "unsafe_character",
    "used_placeholders",
    "values_of",
]
