"""Checks: what the engine asks of each host, and how it reads the answers.

Parts: ``remote`` (the shell snippet of each host-side kind and how to judge its output), ``batch`` (one
round's snippets framed into one ``sh -s`` script, and its output split back), ``http`` (HTTP and TCP probes
from the cockpit, direct or through an SSH forward), ``probing`` (the probe worker process that times
direct probes away from the screen, and the rule that drops a latency timed while the cockpit stalled),
``probe_worker`` (that process's ``main``), ``lag`` (how late an event loop runs),
``json_expect`` (``expect_json``: what an answer's JSON must hold), ``ws`` (WebSocket probes),
``dns`` (dns checks: dig on the host or dnspython in the cockpit, one judge), ``verdict`` (what a judge
gives: status, detail, figures and parts; restart counts that rose), ``compose`` (a compose project's
containers by their labels), ``pm2`` (a pm2 app from ``pm2 jlist``, read on the host), ``logs`` (log
checks: a pattern counted in what is new in a file, a journald unit or a container's logs), ``resources`` (each
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
from cockpit.checks.compose import compose_snippet, judge_compose
from cockpit.checks.compose import declared as compose_declared
from cockpit.checks.dns import probe_dns, split_resolver
from cockpit.checks.http import HttpProber, probe_tcp
from cockpit.checks.json_expect import OPS as JSON_OPS
from cockpit.checks.json_expect import json_failure
from cockpit.checks.logs import LogRead, log_snippet, parse_log
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
from cockpit.checks.remote import check_snippet, judge, needs_cut
from cockpit.checks.verdict import Part, Verdict, restarts_rose
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
    "LogRead",
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
    "Part",
    "Verdict",
    "restarts_rose",
    "build_script",
    "check_snippet",
    "compose_declared",
    "compose_snippet",
    "end_marker",
    "judge",
    "judge_compose",
    "log_snippet",
    "needs_cut",
    "new_delimiter",
    "parse_log",
    "parse_round",
    "probe_dns",
    "split_resolver",
    "probe_tcp",
    "probe_ws",
    "strip_frames",
]
