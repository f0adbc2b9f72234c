"""Checks: what the engine asks of each host, and how it reads the answers.

Parts: ``remote`` (the shell snippet of each host-side kind and how to judge its output), ``batch`` (one
round's snippets framed into one ``sh -s`` script, and its output split back), ``http`` (HTTP and TCP probes
from the cockpit, direct or through an SSH forward), ``probing`` (the probe worker process that times
direct probes away from the screen, and the rule that drops a latency timed while the cockpit stalled),
``probe_worker`` (that process's ``main``), ``lag`` (how late an event loop runs).
"""

from __future__ import annotations

from cockpit.checks.batch import (
    SECTION_LIMIT,
    Section,
    SectionOutput,
    build_script,
    end_marker,
    new_delimiter,
    parse_round,
    strip_frames,
)
from cockpit.checks.http import HttpProber, probe_tcp
from cockpit.checks.lag import OVERLOADED, LoopLag, blame_for
from cockpit.checks.probing import Probed, ProbeProcess, lateness, trust_timing
from cockpit.checks.remote import Verdict, check_snippet, judge, needs_cut
from cockpit.checks.targets import TARGET_PLACEHOLDERS, render_target, target_placeholders

__all__ = [
    "TARGET_PLACEHOLDERS",
    "render_target",
    "target_placeholders",
    "HttpProber",
    "LoopLag",
    "OVERLOADED",
    "Probed",
    "ProbeProcess",
    "blame_for",
    "lateness",
    "trust_timing",
    "SECTION_LIMIT",
    "Section",
    "SectionOutput",
    "Verdict",
    "build_script",
    "check_snippet",
    "end_marker",
    "judge",
    "needs_cut",
    "new_delimiter",
    "parse_round",
    "probe_tcp",
    "strip_frames",
]
