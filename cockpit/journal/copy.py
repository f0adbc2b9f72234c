"""One journal into another (SQLite file ⇄ PostgreSQL database): idempotent, verified.

Every table is copied row by row in its own order (``id``, or the order rows were written), each row
inserted only when its key is not there yet, so running the copy again adds nothing and an interrupted copy
is finished by running it again. ``lease`` (who drives now) and ``scratch`` are not history and are not
copied. Afterwards each table's count and last row must be the same on both sides, or the copy fails
saying which table differs; a destination that holds rows the source lacks (another cutover) is refused
before anything is written.
"""

from __future__ import annotations

from typing import Any

from cockpit.errors import JournalError
from cockpit.journal.pgstore import PgJournal
from cockpit.journal.records import Journal

#: (table, key columns, order); parents before children
TABLES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("meta", ("key",), "key"),
    ("log", ("id",), "id"),
    ("plans", ("fingerprint",), "at, rowid"),
    ("plan_changes", ("id",), "id"),
    ("actions", ("id",), "id"),
    ("action_hosts", ("action_id", "host"), "action_id, rowid"),
    ("status_changes", ("id",), "id"),
    ("transitions", ("id",), "id"),
    ("holds", ("phase",), "phase"),
    ("verify_results", ("id",), "id"),
    ("gate_results", ("id",), "id"),
    ("baselines", ("id",), "id"),
    ("rollbacks", ("id",), "id"),
)


def _rows(j: Journal, table: str, order: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with j.read() as conn:
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    if not rows:
        return [], []
    cols = [c for c in rows[0].keys() if c != "rowid"]
    return cols, [tuple(r[c] for c in cols) for r in rows]


def copy_journal(src: Journal, dst: Journal) -> dict[str, int]:
    """Copy ``src`` into ``dst``; returns {table: rows added}. JournalError when the two differ afterwards."""
    plan = [(t, key, order, *_rows(src, t, order)) for t, key, order in TABLES]
    for table, key, order, cols, rows in plan:
        theirs = _rows(dst, table, order)[1]
        if len(theirs) > len(rows) and table != "meta":
            raise JournalError(f"{dst.path} already holds {len(theirs)} rows of {table}, more than {src.path} "
                               f"({len(rows)}): it is another journal", "copy into an empty journal")
    added: dict[str, int] = {}
    with dst.write("FULL") as conn:
        for table, key, _order, cols, rows in plan:
            if not rows:
                continue
            marks = ", ".join("?" for _ in cols)
            before = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            conn.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
            added[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) - before
            if isinstance(dst, PgJournal) and key == ("id",):  # the next id continues after the copied ones
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
    verify(src, dst)
    return added


def verify(src: Journal, dst: Journal) -> None:
    """Each table's count and last row equal on both sides, else JournalError naming the table."""
    for table, _key, order in TABLES:
        if table == "meta":
            continue  # the destination keeps its own created_at and migrations
        _, mine = _rows(src, table, order)
        _, theirs = _rows(dst, table, order)
        if len(mine) != len(theirs) or (mine and _norm(mine[-1]) != _norm(theirs[-1])):
            raise JournalError(f"the copy of {table} differs: {len(mine)} rows in {src.path}, {len(theirs)} in "
                               f"{dst.path}" + ("" if len(mine) != len(theirs) else "; the last rows differ"),
                               "run the copy again; if it still differs, keep both and report it")


def _norm(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in row)
