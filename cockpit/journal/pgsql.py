"""The journal's SQL on PostgreSQL: one set of statements (SQLite's), translated, run on the worker.

The records, the lease, the reads and the migrations are written once, in SQLite's dialect, and used by
both backends: :class:`PgConn` stands where a ``sqlite3.Connection`` stands, translates each statement
(``?`` placeholders, ``INSERT OR REPLACE``/``OR IGNORE``, ``lastrowid``, ``LIMIT -1``, the scalar
``MAX``, the column types of the DDL) and runs it on the :class:`~cockpit.journal.pgworker.Worker`,
returning rows already fetched (:class:`Rows`), so psycopg never leaves the worker thread. The two
tables whose order SQLite takes from ``rowid`` (``action_hosts``, ``plans``) get a ``rowid`` column of
their own. Rows are :class:`Row`: a tuple that also answers ``row["name"]`` and ``keys()``, as
``sqlite3.Row`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

#: tables with ``id`` from a sequence: an INSERT into one returns it (``lastrowid``)
ID_TABLES = frozenset({"log", "actions", "status_changes", "transitions", "verify_results", "gate_results",
                       "baselines", "rollbacks", "plan_changes", "scratch", "views"})
#: the conflict target of ``INSERT OR REPLACE`` per table
KEYS = {"meta": ("key",), "lease": ("id",), "holds": ("phase",), "plans": ("fingerprint",),
        "action_hosts": ("action_id", "host")}
ROWID_TABLES = ("action_hosts", "plans")

_INSERT = re.compile(r"^\s*INSERT\s+(OR\s+(REPLACE|IGNORE)\s+)?INTO\s+(\w+)\s*\(([^)]*)\)", re.I | re.S)
_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(\w+)\s*\(", re.I)


@lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, bool]:
    """(the statement for PostgreSQL, whether it returns the new row's id)."""
    out = sql.replace("%", "%%").replace("?", "%s")
    if m := _CREATE.match(out):
        out = (out.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
                  .replace("INTEGER PRIMARY KEY,", "BIGSERIAL PRIMARY KEY,")
                  .replace(" REAL", " DOUBLE PRECISION").replace(" INTEGER", " BIGINT"))
        if m.group(1) in ROWID_TABLES:
            out = out[:m.end()] + "rowid BIGSERIAL, " + out[m.end():]
        return out, False
    if out.lstrip().upper().startswith("ALTER TABLE"):
        return out.replace(" INTEGER", " BIGINT").replace(" REAL", " DOUBLE PRECISION"), False
    out = out.replace("MAX(after_lease_lost, %s)", "GREATEST(after_lease_lost, %s)")
    out = out.replace("LIMIT %s) ORDER BY", "LIMIT NULLIF(%s, -1)) AS newest ORDER BY")
    out = re.sub(r"LIMIT %s(?!\))", "LIMIT NULLIF(%s, -1)", out)
    m = _INSERT.match(out)
    if m is None:
        return out, False
    mode, table, cols = (m.group(2) or "").upper(), m.group(3), [c.strip() for c in m.group(4).split(",")]
    out = out[:m.start(1)] + out[m.end(1):] if m.group(1) else out
    if mode == "IGNORE":
        out += " ON CONFLICT DO NOTHING"
    elif mode == "REPLACE":
        key = KEYS[table]
        rest = [c for c in cols if c not in key]
        out += f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in rest)
    returning = table in ID_TABLES and mode == ""
    return (out + " RETURNING id" if returning else out), returning


class Row(tuple):  # type: ignore[type-arg]
    """A row by position and by column name, like ``sqlite3.Row``."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(names: tuple[str, ...], values: Iterable[tuple[Any, ...]]) -> list[Row]:
    cls = type("Row", (Row,), {"_names": names})
    return [cls(v) for v in values]


class Rows:
    """What a statement returned, fetched on the worker: ``fetchone``, ``fetchall``, iteration, counts."""

    def __init__(self, rows: list[Row], rowcount: int, lastrowid: int | None) -> None:
        self._rows, self.rowcount, self.lastrowid = rows, rowcount, lastrowid

    def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class PgConn:
    """A ``sqlite3.Connection`` look-alike over the worker: ``execute``, ``executemany``.

    ``run(fn)`` runs ``fn(psycopg_connection)`` on the worker and maps its errors (the store passes it in).
    """

    def __init__(self, run: Callable[[Callable[[Any], Any]], Any]) -> None:
        self._run = run

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        text, returning = translate(sql)

        def go(conn: Any) -> Rows:
            cur = conn.execute(text, tuple(params) or None)
            names = tuple(d.name for d in cur.description) if cur.description else ()
            rows = _rows(names, cur.fetchall()) if names else []
            last = int(rows[0][0]) if returning and rows else None
            return Rows([] if returning else rows, cur.rowcount, last)

        return self._run(go)  # type: ignore[no-any-return]

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Rows:
        text, returning = translate(sql)
        if returning:
            text = text[: -len(" RETURNING id")]
        batch = [tuple(p) for p in seq]

        def go(conn: Any) -> Rows:
            with conn.cursor() as cur:
                cur.executemany(text, batch)
                return Rows([], cur.rowcount, None)

        return self._run(go)  # type: ignore[no-any-return]
