"""Modules split by area keep their public names where callers import them, and import on their own.

runbook, report, detach, sudo, cli_runbook and screens.app were each split into
smaller modules; callers (and docs) still import from the original module. Each
part must import alone in a fresh interpreter: an import cycle between the parts
would only show up in some import orders.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: original module -> (its parts, the names callers import from the original)
SPLITS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cockpit.runbook": (
        ("cockpit.runbook_views", "cockpit.runbook_state", "cockpit.runbook_steps", "cockpit.runbook_rollback"),
        ("Runbook", "RunbookError", "HostCheck", "StepView", "PhaseView", "RollbackRecord", "PlanView",
         "VERIFY_POLL", "DONE_PHASE", "DONE_STEP"),
    ),
    "cockpit.report": (
        ("cockpit.report_base", "cockpit.report_overview", "cockpit.report_details"),
        ("build_report", "OUTPUT_TAIL_CHARS", "OUTPUT_TAIL_LINES", "STATUS_PAIRS_LIMIT", "STATUS_RECENT_LIMIT",
         "GATE_FAILURES_LIMIT", "DETAIL_LIMIT", "PHASE_END_STATES", "REASON_STATES", "OK", "BAD", "UNKNOWN"),
    ),
    "cockpit.detach": (
        ("cockpit.detach_job", "cockpit.detach_control", "cockpit.detach_runner"),
        ("DetachedJob", "Progress", "DetachError", "DetachTimeout", "Outcome", "JOB_DIR", "POLL_BYTES",
         "START_WAIT", "COMMAND_TIMEOUT", "RETRY_MIN", "RETRY_MAX", "valid_job_id", "new_job_id", "job_offset",
         "start_script", "poll_script", "kill_script", "cleanup_script", "start", "poll", "follow", "kill",
         "cleanup", "KEEP_RUNNING", "OFFSET_EVERY", "RESUME_TAIL", "action_runner", "resume"),
    ),
    "cockpit.sudo": (
        ("cockpit.sudo_prepare", "cockpit.sudo_run"),
        ("Prepared", "SudoError", "SudoPassword", "SudoRun", "Mode", "Executor", "add_to_redactor", "explain",
         "needs_password", "prepare", "run", "simple_words"),
    ),
    "cockpit.cli_runbook": (
        ("cockpit.cli_common", "cockpit.cli_steps"),
        ("COMMANDS", "EXIT_OK", "EXIT_FAIL", "EXIT_USAGE", "GLYPH", "add_parsers", "render_plan", "regressions_now",
         "cmd_plan", "cmd_step", "cmd_rollback", "cmd_gate", "cmd_baseline", "cmd_diff", "cmd_journal",
         "cmd_report"),
    ),
    "screens.app": (
        ("screens.fleet_actions", "screens.runbook_actions"),
        ("CockpitApp", "ALARMING", "UNLISTED_ACTIONS"),
    ),
}

MODULES = sorted({m for original, (parts, _names) in SPLITS.items() for m in (original, *parts)})


@pytest.mark.parametrize("original", sorted(SPLITS))
def test_names_are_importable_from_the_original_module(original: str) -> None:
    module = importlib.import_module(original)
    parts, names = SPLITS[original]
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{original} lost {missing}"
    for name in getattr(module, "__all__", ()):
        assert hasattr(module, name), f"{original}.__all__ names {name}, which it does not have"
    for part in parts:  # a re-exported name is the part's object, not a copy
        defined = vars(importlib.import_module(part))
        for name in names:
            if name in defined and not isinstance(defined[name], (str, int, float, tuple, frozenset)):
                assert getattr(module, name) is defined[name], f"{original}.{name} is not {part}.{name}"


def test_each_part_imports_on_its_own() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {m: subprocess.Popen([sys.executable, "-c", f"import {m}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for m in MODULES}
    failed = {}
    for m, p in procs.items():
        out, _ = p.communicate(timeout=60)
        if p.returncode != 0:
            failed[m] = out[-800:]
    assert not failed, failed


def test_cockpit_app_keeps_its_actions() -> None:
    from screens.app import CockpitApp

    for name in ("action_run_step", "action_continue_step", "action_skip_step", "action_tick_step",
                 "action_override_phase", "action_rollback", "action_quick_rollback", "action_baseline",
                 "action_take_over", "action_probe_hosts", "action_adhoc_prompt", "action_run_configured",
                 "action_cancel_action", "action_retry_host", "action_host_detail", "action_help",
                 "action_request_quit"):
        assert callable(getattr(CockpitApp, name, None)), name
