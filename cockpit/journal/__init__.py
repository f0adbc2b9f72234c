"""The durable journal of a cutover (SQLite) and the driver lease it holds.

Parts: ``records`` (:class:`Journal`), ``store`` (the connection, transactions), ``schema`` (migrations),
``lease`` (who drives), ``read`` (queries for the report and ``cockpit journal``).
"""

from __future__ import annotations

from cockpit.errors import JournalError
from cockpit.journal.lease import DEFAULT_TTL, Lease
from cockpit.journal.records import OUTPUT_LIMIT, Journal
from cockpit.journal.schema import SCHEMA_VERSION

__all__ = [
    "DEFAULT_TTL",
    "Journal",
    "JournalError",
    "Lease",
    "OUTPUT_LIMIT",
    "SCHEMA_VERSION",
]
