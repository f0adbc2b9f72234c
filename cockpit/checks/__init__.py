"""Checks: what the engine asks of each host, and how it reads the answers.

Parts: ``remote`` (the shell snippet of each host-side kind and how to judge its output), ``batch`` (one
round's snippets framed into one ``sh -s`` script, and its output split back), ``http`` (HTTP and TCP probes
from the cockpit, direct or through an SSH forward), ``probing`` (the probe worker process that times
direct probes away from the screen, and the rule that drops a latency timed while the cockpit stalled),
``probe_worker`` (that process's ``main``), ``lag`` (how late an event loop runs),
``json_expect`` (``expect_json``: what an answer's JSON must hold), ``ws`` (WebSocket probes),
``dns`` (dns checks: dig on the host or dnspython in the cockpit, one judge), ``resources`` (each
service's CPU and memory counters through its cgroup or process tree, one section of the round script).
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
from cockpit.checks.dns import probe_dns, split_resolver
from cockpit.checks.http import HttpProber, probe_tcp
from cockpit.checks.json_expect import OPS as JSON_OPS
from cockpit.checks.json_expect import json_failure
from cockpit.checks.lag import OVERLOADED, LoopLag, blame_for, run_delay
from cockpit.checks.probing import Probed, ProbeProcess, lateness, trust_timing
from cockpit.checks.resources import (
    NO_RESOURCES,
    RESOURCE_KINDS,
    Counters,
    Reading,
    locator,
    parse_passes,
    parse_resources,
    resources_snippet,
)
from cockpit.checks.remote import Verdict, check_snippet, judge, needs_cut
from cockpit.checks.ws import probe_ws
from cockpit.checks.targets import TARGET_PLACEHOLDERS, render_target, target_placeholders

__all__ = [
    "NO_RESOURCES",
    "RESOURCE_KINDS",
    "Counters",
    "Reading",
    "locator",
    "parse_passes",
    "parse_resources",
    "resources_snippet",
    "TARGET_PLACEHOLDERS",
    "render_target",
    "target_placeholders",
    "HttpProber",
    "JSON_OPS",
    "json_failure",
    "LoopLag",
    "OVERLOADED",
    "Probed",
    "ProbeProcess",
    "blame_for",
    "lateness",
    "run_delay",
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
    "probe_dns",
    "split_resolver",
    "probe_tcp",
    "probe_ws",
    "strip_frames",
]
