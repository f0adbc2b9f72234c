"""The durable journal of a cutover (SQLite) and the driver lease it holds.

Parts: ``records`` (:class:`Journal`), ``store`` (the connection, transactions), ``schema`` (migrations),
``lease`` (who drives, and the fence), ``read`` (queries for the report and ``cockpit journal``),
``backend`` (:class:`JournalBackend`: what a later PostgreSQL journal implements too), ``views`` (the
driver's published view, :class:`PublishedView`), ``follow`` (:class:`ViewFollower`: an observer reading them).
"""

from __future__ import annotations

from cockpit.errors import JournalError, LeaseLost
from cockpit.journal.backend import JournalBackend
from cockpit.journal.follow import FollowState, ViewFollower
from cockpit.journal.lease import DEFAULT_TTL, Lease
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
    "Lease",
    "LeaseLost",
    "OUTPUT_LIMIT",
    "PublishedView",
    "SCHEMA_VERSION",
    "VIEW_VERSION",
    "ViewFollower",
    "action_line",
    "action_summaries",
    "decode_view",
    "encode_view",
    "latest_view",
    "publish_view",
]
