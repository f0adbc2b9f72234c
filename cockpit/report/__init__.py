"""The cutover report (Markdown) built from the journal, the history and the final snapshot.

Parts: ``build`` (``build_report``), ``base`` (shared helpers), ``overview`` and ``details`` (the sections).
"""

from __future__ import annotations

from cockpit.report.base import OUTPUT_TAIL_CHARS, OUTPUT_TAIL_LINES, STATUS_PAIRS_LIMIT, STATUS_RECENT_LIMIT
from cockpit.report.build import build_report

__all__ = [
    "OUTPUT_TAIL_CHARS",
    "OUTPUT_TAIL_LINES",
    "STATUS_PAIRS_LIMIT",
    "STATUS_RECENT_LIMIT",
    "build_report",
]
