"""The driver's published view: what its dashboard renders, for observers that open no SSH connection.

A record kind of its own (table ``views``, schema v6): at most once per round the driver writes a small,
versioned JSON form of its :class:`cockpit.model.FleetSnapshot` plus summaries of what it journaled
(the last actions with each host's outcome and last output line, gate verdicts, rollbacks, the plan it
runs). Fenced like every driver record: only the lease holder publishes. Only the latest
:data:`KEEP` views are kept (an observer needs the newest; the journal's own tables keep the history).

The form is JSON-serialisable on purpose: the same text goes through SQLite today and a PostgreSQL
``NOTIFY`` payload or row later. :data:`VIEW_VERSION` grows when a field changes meaning; an observer
refuses (says why) a view of a version it does not know rather than guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cockpit.errors import JournalError
from cockpit.journal.notify import is_pg, notify_sql
from cockpit.model import CheckResult, FleetSnapshot, HostState, Load
from cockpit.sanitize import strip_control

__all__ = ["KEEP", "VIEW_VERSION", "PublishedView", "action_line", "action_summaries", "decode_view", "encode_view", "latest_view",
           "publish_view"]

VIEW_VERSION = 1
KEEP = 20


@dataclass(frozen=True)
class PublishedView:
    """One publication as an observer reads it back."""

    id: int
    at: float  # the driver's clock when it published
    operator: str
    host: str  # the driver's machine
    round: int
    every: float  # the driver's round interval: "silent" means no new view for two of them
    snapshot: FleetSnapshot
    actions: tuple[dict[str, Any], ...] = ()  # newest first: title, state, by, hosts [{host, state, line}]
    gates: tuple[dict[str, Any], ...] = ()  # the latest verdict per phase: phase, ok, detail
    rollbacks: tuple[dict[str, Any], ...] = ()
    plan: str = ""  # the fingerprint of the plan the driver runs

    @property
    def driver(self) -> str:
        return f"{self.operator} on {self.host}"


def _load(d: Load | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"at": d.at, "cpu": d.cpu, "mem": d.mem, "mem_total_kb": d.mem_total_kb, "load1": d.load1,
            "load5": d.load5, "load15": d.load15, "disks": [list(x) for x in d.disks], "ncpu": d.ncpu,
            "supported": d.supported, "note": d.note}


def _result(r: CheckResult) -> dict[str, Any]:
    return {"service": r.service, "kind": r.kind, "status": r.status, "detail": r.detail, "latency": r.latency,
            "at": r.at, "critical": r.critical, "extra": [list(x) for x in r.extra], "since": r.since,
            "expect": r.expect, "expect_why": r.expect_why}


def _host(h: HostState) -> dict[str, Any]:
    return {"name": h.name, "reach": h.reach, "error": h.error, "fingerprint": h.fingerprint, "load": _load(h.load),
            "results": [_result(r) for r in h.results], "round_started": h.round_started,
            "round_ended": h.round_ended, "tags": list(h.tags), "connection": h.connection, "notes": list(h.notes)}


def encode_view(snap: FleetSnapshot, *, every: float, actions: list[dict[str, Any]] | None = None,
                gates: list[dict[str, Any]] | None = None, rollbacks: list[dict[str, Any]] | None = None,
                plan: str = "") -> str:
    """The JSON text of a publication (load history is left out: an observer shows the latest sample)."""
    return json.dumps({
        "v": VIEW_VERSION, "every": every, "plan": plan,
        "snapshot": {"title": snap.title, "at": snap.at, "round": snap.round, "phases": list(snap.phases),
                     "hosts": [_host(h) for h in snap.hosts]},
        "actions": actions or [], "gates": gates or [], "rollbacks": rollbacks or [],
    }, separators=(",", ":"))


STATUSES = ("up", "degraded", "down", "unknown")
EXPECTS = ("up", "down", "absent", "transition", "inconclusive")
REACHES = ("ok", "connecting", "unreachable", "auth-failed", "host-key-unknown", "host-key-CHANGED", "unknown")


def _one_of(value: Any, allowed: tuple[str, ...], default: str) -> Any:
    return value if value in allowed else default


def _s(value: Any) -> str:
    return strip_control(str(value)) if value is not None else ""


def _decode_load(d: dict[str, Any] | None) -> Load | None:
    if d is None:
        return None
    return Load(at=d["at"], cpu=d["cpu"], mem=d["mem"], mem_total_kb=d["mem_total_kb"], load1=d["load1"],
                load5=d["load5"], load15=d["load15"], disks=tuple((_s(m), p) for m, p in d["disks"]),
                ncpu=d["ncpu"], supported=d["supported"], note=_s(d["note"]))


def _decode_host(d: dict[str, Any]) -> HostState:
    name = _s(d["name"])
    results = tuple(CheckResult(
        service=_s(r["service"]), host=name, kind=_s(r["kind"]), status=_one_of(r["status"], STATUSES, "unknown"), detail=_s(r["detail"]),
        latency=r["latency"], at=r["at"], critical=r["critical"],
        extra=tuple((_s(k), v if isinstance(v, (int, float)) else _s(v)) for k, v in r["extra"]), since=r["since"],
        expect=_one_of(r["expect"], EXPECTS, "inconclusive"), expect_why=_s(r["expect_why"])) for r in d["results"])
    load = _decode_load(d["load"])
    return HostState(name=name, reach=_one_of(d["reach"], REACHES, "unknown"), error=_s(d["error"]), fingerprint=_s(d["fingerprint"]), load=load,
                     history=(load,) if load is not None else (), results=results,
                     round_started=d["round_started"], round_ended=d["round_ended"],
                     tags=tuple(_s(t) for t in d["tags"]), connection=_s(d["connection"]),
                     notes=tuple(_s(n) for n in d["notes"]))


def decode_view(row_id: int, at: float, operator: str, host: str, body: str) -> PublishedView:
    """A stored publication back into snapshot types; JournalError (saying why) for a form not understood.

    Text fields are stripped of control characters again: the journal is shared, so it is untrusted here.
    """
    try:
        d = json.loads(body)
        if d.get("v") != VIEW_VERSION:
            raise JournalError(f"the driver publishes views of version {d.get('v')!r}; this cockpit reads "
                               f"version {VIEW_VERSION}", "run the same cockpit version as the driver")
        s = d["snapshot"]
        snap = FleetSnapshot(title=_s(s["title"]), at=s["at"], hosts=tuple(_decode_host(h) for h in s["hosts"]),
                             round=s["round"], phases=tuple(_s(p) for p in s["phases"]))
        return PublishedView(id=row_id, at=at, operator=_s(operator), host=_s(host), round=snap.round,
                             every=float(d["every"]), snapshot=snap, actions=tuple(d["actions"]),
                             gates=tuple(d["gates"]), rollbacks=tuple(d["rollbacks"]), plan=_s(d["plan"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JournalError(f"the driver's published view {row_id} is not readable here ({type(exc).__name__}: "
                           f"{exc})", "run the same cockpit version as the driver") from None


def publish_view(journal: Any, body: str, *, at: float, host: str, round_no: int) -> int:
    """Write one view (fenced: LeaseLost unless this journal's lease is current) and prune to :data:`KEEP`."""
    with journal.write("NORMAL") as conn:
        journal.fence(conn)
        rid = int(conn.execute("INSERT INTO views (at, operator, host, round, version, body) VALUES (?, ?, ?, ?, ?, ?)",
                               (at, journal.operator, host, round_no, VIEW_VERSION, body)).lastrowid or 0)
        conn.execute("DELETE FROM views WHERE id <= ?", (rid - KEEP,))
        if is_pg(journal):  # observers listening are told on commit (SQLite: they poll)
            conn.execute(notify_sql(), (str(rid),))
    return rid


def latest_view(journal: Any, after: int = 0) -> PublishedView | None:
    """The newest view with an id above ``after`` (None when there is none, or no newer one)."""
    with journal.read() as conn:
        row = conn.execute("SELECT id, at, operator, host, body FROM views WHERE id > ? ORDER BY id DESC LIMIT 1",
                           (after,)).fetchone()
    if row is None:
        return None
    return decode_view(int(row[0]), float(row[1]), str(row[2]), str(row[3]), str(row[4]))


def _last_line(output: str) -> str:
    lines = [x for x in output.splitlines() if x.strip()]
    return strip_control(lines[-1])[-160:] if lines else ""


def action_summaries(journal: Any, limit: int = 3) -> list[dict[str, Any]]:
    """The last ``limit`` actions, newest first: title, who, ended or not, each host's state and last output line."""
    out = []
    for a in reversed(journal.actions(limit=limit)):
        out.append({"id": a["id"], "title": a["title"], "kind": a["kind"], "operator": a["operator"],
                    "step": a["step"], "started": a["started"], "ended": a["ended"],
                    "hosts": [{"host": r["host"], "state": r["state"], "exit_status": r["exit_status"],
                               "line": _last_line(r.get("output") or "")} for r in a["runs"]]})
    return out


def action_line(action: dict[str, Any]) -> str:
    """``mark (by alice): h1 ok · h2 failed (exit 1): last line`` for an observer's banner."""
    hosts = []
    for h in action.get("hosts", [])[:6]:
        word = _s(h.get("state"))
        if h.get("exit_status") not in (None, 0):
            word += f" (exit {h['exit_status']})"
        hosts.append(f"{_s(h.get('host'))} {word}")
    more = len(action.get("hosts", [])) - 6
    return (f"{_s(action.get('title'))} (by {_s(action.get('operator'))}): " + " · ".join(hosts)
            + (f" and {more} more" if more > 0 else ""))
