"""The journal's SQLite schema and its migrations.

``PRAGMA user_version`` holds the schema version. ``MIGRATIONS[i]`` brings a
journal from version ``i`` to ``i + 1``; a new version is one more function
appended to the tuple, never an edit of an existing one (journals already in
the field were made by it). Each step runs inside the caller's
``BEGIN IMMEDIATE`` transaction, so a crash mid-migration leaves the old
version intact. docs/journal.md describes every table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: ``PRAGMA application_id``: marks the file as a cockpit journal ("CCKJ")
APPLICATION_ID = 0x43434B4A

_V1 = (
    # created_at, created_by, migrated_to_v<N>: who made the journal and when it changed shape
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # every record once, in the order written; timeline() reads only this (data is a JSON object)
    """CREATE TABLE log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        operator TEXT NOT NULL,
        ref INTEGER,
        data TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE actions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        kind TEXT NOT NULL,
        command TEXT NOT NULL,
        operator TEXT NOT NULL,
        phase TEXT,
        step TEXT,
        started REAL NOT NULL,
        ended REAL,
        interrupted INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE action_hosts (
        action_id INTEGER NOT NULL REFERENCES actions(id),
        host TEXT NOT NULL,
        command TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        exit_status INTEGER,
        started REAL,
        ended REAL,
        output TEXT NOT NULL DEFAULT '',
        truncated INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (action_id, host)
    )""",
    "CREATE INDEX actions_open ON actions(id) WHERE ended IS NULL",
    """CREATE TABLE status_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        host TEXT NOT NULL,
        service TEXT,
        old TEXT NOT NULL,
        new TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX status_changes_host ON status_changes(host, at)",
    """CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('phase', 'step', 'runbook')),
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        operator TEXT NOT NULL
    )""",
    "CREATE INDEX transitions_target ON transitions(kind, target, id)",
    "CREATE TABLE holds (phase TEXT PRIMARY KEY, since REAL NOT NULL, operator TEXT NOT NULL)",
    """CREATE TABLE verify_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        step TEXT NOT NULL,
        host TEXT NOT NULL,
        ok INTEGER,
        detail TEXT NOT NULL DEFAULT '',
        operator TEXT NOT NULL
    )""",
    """CREATE TABLE gate_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        phase TEXT NOT NULL,
        ok INTEGER,
        detail TEXT NOT NULL DEFAULT '',
        operator TEXT NOT NULL
    )""",
    """CREATE TABLE baselines (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        data TEXT NOT NULL,
        operator TEXT NOT NULL
    )""",
    """CREATE TABLE rollbacks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        started REAL NOT NULL,
        ended REAL,
        ok INTEGER,
        detail TEXT NOT NULL DEFAULT '',
        operator TEXT NOT NULL
    )""",
    """CREATE TABLE lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        operator TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        heartbeat REAL NOT NULL,
        acquired REAL NOT NULL
    )""",
    # probe_writable() commits a row here and deletes it: a real write, not a rolled-back one
    "CREATE TABLE scratch (id INTEGER PRIMARY KEY, at REAL NOT NULL)",
)


def _v1(conn: sqlite3.Connection) -> None:
    for statement in _V1:
        conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    """Detached jobs: a host row may name the job running its command on the host (JSON: host, job_id,
    dir, pgid, offset), so a restarted cockpit can reattach instead of marking the host interrupted."""
    conn.execute("ALTER TABLE action_hosts ADD COLUMN job TEXT")
    conn.execute("CREATE INDEX action_hosts_detached ON action_hosts(action_id) "
                 "WHERE job IS NOT NULL AND ended IS NULL")


def _v3(conn: sqlite3.Connection) -> None:
    """Fencing: the lease carries a generation (raised by every acquire and take-over; the last one given
    out is kept in meta so a release never resets it), and a host's outcome may be flagged as written by a
    cockpit that had lost the lease meanwhile."""
    conn.execute("ALTER TABLE lease ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE action_hosts ADD COLUMN after_lease_lost INTEGER NOT NULL DEFAULT 0")


def _v4(conn: sqlite3.Connection) -> None:
    """Plan versions: each distinct plan kept once (normalised text, by fingerprint); every decision names
    the plan it was made under and its step's own fingerprint; accepted plan changes with who, why and diff."""
    conn.execute("""CREATE TABLE plans (
        fingerprint TEXT PRIMARY KEY,
        at REAL NOT NULL,
        operator TEXT NOT NULL,
        text TEXT NOT NULL
    )""")
    conn.execute("""CREATE TABLE plan_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        operator TEXT NOT NULL,
        old TEXT,
        new TEXT NOT NULL REFERENCES plans(fingerprint),
        reason TEXT NOT NULL DEFAULT '',
        diff TEXT NOT NULL DEFAULT '[]'
    )""")
    for table in ("actions", "transitions", "verify_results", "gate_results", "rollbacks"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN plan TEXT")
        conn.execute(f"ALTER TABLE {table} ADD COLUMN step_fp TEXT")


def _v5(conn: sqlite3.Connection) -> None:
    """Every decision under its plan: holds and baselines name the plan they were made under (a hold also
    its phase's own fingerprint); gate results, phase transitions and phase rollbacks fill ``step_fp`` with
    the phase's fingerprint from now on. Rows written before stay NULL: not known, never guessed."""
    conn.execute("ALTER TABLE holds ADD COLUMN plan TEXT")
    conn.execute("ALTER TABLE holds ADD COLUMN step_fp TEXT")
    conn.execute("ALTER TABLE baselines ADD COLUMN plan TEXT")


def _v6(conn: sqlite3.Connection) -> None:
    """The driver's published view (issue 29): what its dashboard renders, at most once per round, for
    observers that open no SSH connection (``cockpit.journal.views``); only the latest few are kept."""
    conn.execute("""CREATE TABLE views (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        operator TEXT NOT NULL,
        host TEXT NOT NULL,
        round INTEGER NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL
    )""")


Migration = Callable[[sqlite3.Connection], None]

#: ``MIGRATIONS[i]`` migrates version ``i`` to ``i + 1``; append, never edit
MIGRATIONS: tuple[Migration, ...] = (_v1, _v2, _v3, _v4, _v5, _v6)
SCHEMA_VERSION = len(MIGRATIONS)


def user_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables in the file, to tell an empty new file from someone else's database."""
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [r[0] for r in rows]


def migrate(conn: sqlite3.Connection, version: int, now: float, operator: str) -> int:
    """Apply every step after ``version``; the caller holds a write transaction. Returns the new version."""
    if version == 0:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[target - 1](conn)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (f"migrated_to_v{target}", repr(now)))
        conn.execute(f"PRAGMA user_version = {target}")
    if version == 0:
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         [("created_at", repr(now)), ("created_by", operator)])
    return SCHEMA_VERSION
