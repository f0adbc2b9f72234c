"""The durable journal of a cutover (SQLite) and the driver lease it holds.

Parts: ``records`` (:class:`Journal`), ``store`` (the connection, transactions), ``schema`` (migrations),
``lease`` (who drives, and the fence), ``read`` (queries for the report and ``cockpit journal``),
``backend`` (:class:`JournalBackend`: what a later PostgreSQL journal implements too).
"""

from __future__ import annotations

from cockpit.errors import JournalError, LeaseLost
from cockpit.journal.backend import JournalBackend
from cockpit.journal.lease import DEFAULT_TTL, Lease
from cockpit.journal.records import OUTPUT_LIMIT, Journal
from cockpit.journal.schema import SCHEMA_VERSION

__all__ = [
    "DEFAULT_TTL",
    "Journal",
    "JournalBackend",
    "JournalError",
    "Lease",
    "LeaseLost",
    "OUTPUT_LIMIT",
    "SCHEMA_VERSION",
]
