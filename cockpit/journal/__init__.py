"""The durable journal of a cutover (a SQLite file or a PostgreSQL database) and the driver lease it holds.

Parts: ``records`` (:class:`Journal`), ``store`` (the connection, transactions), ``schema`` (migrations),
``lease`` (who drives, and the fence), ``read`` (queries for the report and ``cockpit journal``),
``backend`` (:class:`JournalBackend`: what both journals implement), ``pgstore`` (:class:`PgJournal`),
``pgsql`` (the same SQL on PostgreSQL), ``pgworker`` (its one worker thread), ``obspool`` (observations
spooled on disk while the database is away), ``factory`` (path or URL), ``copy`` (one journal into another),
``views`` (the driver's published view, :class:`PublishedView`), ``follow`` (:class:`ViewFollower`: an
observer reading them).
"""

from __future__ import annotations

from cockpit.errors import JournalError, JournalUnavailable, LeaseLost
from cockpit.journal.backend import JournalBackend
from cockpit.journal.copy import copy_journal
from cockpit.journal.factory import journal_exists, open_journal
from cockpit.journal.follow import FollowState, ViewFollower
from cockpit.journal.lease import DEFAULT_TTL, Lease
from cockpit.journal.pgstore import PgJournal, display_url, is_url
from cockpit.journal.records import OUTPUT_LIMIT, Journal
from cockpit.journal.schema import SCHEMA_VERSION
from cockpit.journal.views import (
    VIEW_VERSION,
    PublishedView,
    action_line,
    action_summaries,
    decode_view,
    encode_view,
    latest_view,
    publish_view,
)

__all__ = [
    "DEFAULT_TTL",
    "FollowState",
    "Journal",
    "JournalBackend",
    "JournalError",
    "JournalUnavailable",
    "Lease",
    "LeaseLost",
    "OUTPUT_LIMIT",
    "PgJournal",
    "PublishedView",
    "SCHEMA_VERSION",
    "VIEW_VERSION",
    "ViewFollower",
    "action_line",
    "action_summaries",
    "copy_journal",
    "decode_view",
    "display_url",
    "encode_view",
    "is_url",
    "journal_exists",
    "latest_view",
    "open_journal",
    "publish_view",
]
