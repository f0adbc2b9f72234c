"""The cutover report: the Markdown an operator would otherwise write by hand after a migration.

Built from the journal alone (plus, optionally, the fleet as it is now for the
baseline comparison), so it can be produced at any time, by the driver or an
observer, during the cutover or long after it::

    text = build_report(config, journal, final=engine.snapshot(), history=engine.history,
                        redactor=Redactor(config.secrets))

Sections: header, summary, timeline (with a bounded summary of status
changes), phases and their steps, actions (with the tail of failed hosts'
output), baseline vs final, rollbacks against the budget, overrides and skips.
docs/report.md describes each one.

Every piece of journal or config text goes through :func:`strip_control`, the
redactor and :func:`escape_markdown_cell` before it is written; command output
goes into fenced blocks whose fence is longer than any backtick run inside.
The whole document is redacted once more at the end. Times are UTC, ISO 8601
with ``Z``. The same journal, config and ``now`` give the same text.

The journal is read in :mod:`cockpit.report.base`; the sections are in
:mod:`cockpit.report.overview` (header, summary, timeline) and
:mod:`cockpit.report.details` (the rest); this module puts them in order.
"""

from __future__ import annotations

from cockpit.history import History
from cockpit.journal import Journal
from cockpit.model import FleetSnapshot
from cockpit.report.details import DetailSections
from cockpit.report.outages import OutagesSection
from cockpit.report.overview import OverviewSections
from cockpit.secrets import Redactor
from cockpit.spec import Config

__all__ = ["build_report"]


class _Report(OverviewSections, DetailSections, OutagesSection):
    """One report: the journal read once (in :class:`ReportBase`), then rendered section by section."""

    def render(self) -> str:
        out: list[str] = []
        for section in (self.header, self.summary, self.timeline, self.phases, self.actions_section,
                        self.baseline_section, self.rollbacks_section, self.outages_section, self.reasons_section,
                        self.plan_changes_section):
            out += section()
            out.append("")
        return self.redactor.redact("\n".join(out).rstrip("\n") + "\n")


def build_report(config: Config, journal: Journal, *, final: FleetSnapshot | None = None,
                 history: History | None = None, redactor: Redactor | None = None, now: float | None = None) -> str:
    """The cutover report for ``journal`` as Markdown (ends with a newline).

    ``final``: the fleet now, compared with the journal's latest baseline (with
    ``history`` for the final p95; an empty History leaves those cells blank).
    ``redactor``: secrets to mask, added to ``config.secrets`` (always masked).
    ``now``: the "generated" time (default: the current time). Reads only; the
    journal may be open read-only.
    """
    return _Report(config, journal, final, history, redactor, now).render()
