"""The ``cockpit`` command: a front end above the engine and the screens.

Parts: ``dispatch`` (the parser and ``main``, mapping :class:`~cockpit.errors.CockpitError` to exit codes),
``common`` (shared by the commands), one module per command group: ``fleet`` (validate, snapshot, check,
watch), ``runbook`` (plan, baseline, diff, journal, report), ``steps`` (step, rollback, gate), ``demo``,
and ``tui`` (the cockpit itself, the only module here that imports :mod:`screens`).
"""

from __future__ import annotations

from cockpit.cli.dispatch import main

__all__ = [
    "main",
]
