"""The conditions language of runbook gates and verifies: parsed, never ``eval``'d.

Parts: ``parser`` (the frozen AST and ``parse``), ``evaluator`` (three-valued ``evaluate``),
``refs`` (``render`` and ``references``, what the config loader needs), ``terms`` (targets, comparisons,
quantities), ``wording`` (verdicts and how their details read), ``resources`` (parsing cpu/mem of a service,
load1/load5/cores/disk of hosts) and ``usage`` (judging them). docs/conditions.md has the language.
"""

from __future__ import annotations

from cockpit.conditions.evaluator import EvalContext, Outcome, Verdict, all_of, any_of, evaluate, evaluate_all
from cockpit.conditions.parser import (
    FUNCTIONS,
    LATENCY_PHASES,
    And,
    Command,
    DiskStat,
    Health,
    HostStat,
    LoadStat,
    Node,
    NoRegressions,
    Not,
    Or,
    Quantity,
    Rss,
    ServiceUsage,
    StatusIn,
    Target,
    ValueCmp,
    ValueOf,
    WindowStat,
    parse,
)
from cockpit.conditions.refs import Refs, references, render
from cockpit.errors import ConditionError

__all__ = [
    "And",
    "Command",
    "ConditionError",
    "DiskStat",
    "HostStat",
    "ServiceUsage",
    "EvalContext",
    "FUNCTIONS",
    "LATENCY_PHASES",
    "Health",
    "LoadStat",
    "NoRegressions",
    "Node",
    "Not",
    "Or",
    "Outcome",
    "Quantity",
    "Refs",
    "Rss",
    "StatusIn",
    "Target",
    "ValueCmp",
    "ValueOf",
    "Verdict",
    "WindowStat",
    "all_of",
    "any_of",
    "evaluate",
    "evaluate_all",
    "parse",
    "references",
    "render",
]
