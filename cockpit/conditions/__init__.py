"""The conditions language of runbook gates and verifies: parsed, never ``eval``'d.

Parts: ``parser`` (the frozen AST and ``parse``), ``evaluator`` (three-valued ``evaluate``),
``refs`` (``render`` and ``references``, what the config loader needs). docs/conditions.md has the language.
"""

from __future__ import annotations

from cockpit.conditions.evaluator import EvalContext, Outcome, SeriesValue, Verdict, all_of, any_of, evaluate, evaluate_all
from cockpit.conditions.parser import (
    FUNCTIONS,
    LATENCY_PHASES,
    And,
    Command,
    Compare,
    Health,
    LoadStat,
    Matches,
    Metric,
    MetricRef,
    Node,
    NoRegressions,
    Not,
    Or,
    Quantity,
    Rss,
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
    "Compare",
    "ConditionError",
    "EvalContext",
    "FUNCTIONS",
    "LATENCY_PHASES",
    "Health",
    "LoadStat",
    "Matches",
    "Metric",
    "MetricRef",
    "NoRegressions",
    "Node",
    "Not",
    "Or",
    "Outcome",
    "Quantity",
    "Refs",
    "Rss",
    "SeriesValue",
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
