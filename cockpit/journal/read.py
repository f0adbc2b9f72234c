"""Journal rows as plain dicts, for ``cockpit journal --json``, the UI and the cutover report.

Times are epoch floats, as everywhere in the engine (``at``, ``started``,
``ended``, ``since``); beside each, ``<name>_iso`` is the same instant as an
ISO-8601 UTC string (``"2026-11-22T10:00:00Z"``), or None.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from cockpit.exports import utc

TIME_KEYS = ("at", "started", "ended", "since")
OPEN_STATES = ("pending", "running")


def with_times(d: dict[str, Any]) -> dict[str, Any]:
    """Add ``<name>_iso`` (ISO-8601 UTC) beside every epoch time in ``d``."""
    for key in TIME_KEYS:
        if key in d:
            d[f"{key}_iso"] = utc(d[key])
    return d


def duration(started: float | None, ended: float | None) -> float | None:
    return None if started is None or ended is None else round(ended - started, 3)


def tristate(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def host_dict(row: sqlite3.Row, output: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {
        "host": row["host"], "command": row["command"], "state": row["state"], "exit_status": row["exit_status"],
        "started": row["started"], "ended": row["ended"], "duration": duration(row["started"], row["ended"]),
        "truncated": bool(row["truncated"]), "error": row["error"],
        "after_lease_lost": bool(row["after_lease_lost"]),
    }
    if output:
        d["output"] = row["output"]
    return with_times(d)


def action_dicts(conn: sqlite3.Connection, rows: list[sqlite3.Row], output: bool = True) -> list[dict[str, Any]]:
    """Actions with ``runs`` (host rows, in the order given) and ``hosts`` (their names), like ActionRun."""
    out = []
    for a in rows:
        runs = conn.execute("SELECT * FROM action_hosts WHERE action_id = ? ORDER BY rowid", (a["id"],)).fetchall()
        out.append(with_times({
            "id": a["id"], "title": a["title"], "kind": a["kind"], "command": a["command"],
            "operator": a["operator"], "phase": a["phase"], "step": a["step"],
            "started": a["started"], "ended": a["ended"], "duration": duration(a["started"], a["ended"]),
            "interrupted": bool(a["interrupted"]), "plan": a["plan"], "step_fp": a["step_fp"],
            "hosts": [r["host"] for r in runs],
            "runs": [host_dict(r, output) for r in runs],
        }))
    return out


def open_actions(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Actions without an end that still have a host pending or running."""
    return conn.execute(
        "SELECT * FROM actions a WHERE a.ended IS NULL AND EXISTS (SELECT 1 FROM action_hosts h "
        "WHERE h.action_id = a.id AND h.state IN ('pending', 'running')) ORDER BY a.id").fetchall()


def timeline(conn: sqlite3.Connection, since_id: int, limit: int | None, output: bool) -> list[dict[str, Any]]:
    """``log`` rows after ``since_id`` in the order written; each the record's fields plus id/kind/at/operator.

    The record's own fields never use those four names (a transition's kind is ``target_kind``).
    """
    rows = conn.execute("SELECT id, at, kind, operator, ref, data FROM log WHERE id > ? ORDER BY id LIMIT ?",
                        (since_id, -1 if limit is None else limit)).fetchall()
    out = []
    for row in rows:
        d: dict[str, Any] = {"id": row["id"], "kind": row["kind"], "at": row["at"], "operator": row["operator"]}
        d.update(json.loads(row["data"]))
        if row["kind"] == "baseline":
            got = conn.execute("SELECT data FROM baselines WHERE id = ?", (row["ref"],)).fetchone()
            d["data"] = json.loads(got["data"]) if got else None
        elif row["kind"] == "action-host-done" and output:
            got = conn.execute("SELECT output FROM action_hosts WHERE action_id = ? AND host = ?",
                               (row["ref"], d.get("host"))).fetchone()
            d["output"] = got["output"] if got else ""
        out.append(with_times(d))
    return out
