"""The durable journal: everything that happened during a cutover, in one SQLite file.

Fenced: every driver decision (action intent, transition, verify and gate
result, hold, baseline, rollback start, status changes, marking interrupted)
calls :meth:`LeaseStore.fence` inside its own write transaction, so it is
written only while this store holds the lease's current generation. Outcomes
of commands already fired are written anyway, flagged ``after_lease_lost``.

Written before acting: an action's intent (its hosts and their commands) is
committed with ``synchronous=FULL`` before the command fires, so if the
cockpit dies mid-action the next start finds it (:meth:`Journal.interrupted`)
and shows the operator which hosts have an unknown outcome. Phase and step
transitions, overrides, holds, baselines, rollbacks and the lease are FULL too;
status changes and verify/gate results use ``NORMAL`` (a power cut may lose the
last ones; they are re-observed anyway). The module split::

    schema   tables, user_version, MIGRATIONS
    store    connection, WAL, write transactions, writable/probe
    lease    Lease, acquire / heartbeat / release / take_over
    read     rows as dicts (ISO-8601 UTC times), timeline
    records  Journal: the records (this module)

The caller redacts secrets before writing; the journal strips control and format characters from
titles, commands, reasons, details and the operator's name (typed text is untrusted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cockpit.errors import JournalError
from cockpit.journal import read as rd
from cockpit.journal.planlog import PlanLog
from cockpit.model import StatusChange
from cockpit.plans import ROLLBACK_PART
from cockpit.sanitize import strip_control

__all__ = ["OUTPUT_LIMIT", "Journal"]

OUTPUT_LIMIT = 64 * 1024  # characters of output kept per host per action: the tail
TRANSITION_KINDS = ("phase", "step", "runbook")
INTERRUPTED_NOTE = "the cockpit stopped while this ran; outcome unknown"


def _tail(output: str, truncated: bool) -> tuple[str, bool]:
    if len(output) > OUTPUT_LIMIT:
        return output[-OUTPUT_LIMIT:], True
    return output, truncated


def _late(late: bool) -> dict[str, bool]:
    """The log field of an outcome written by a cockpit that had lost the lease meanwhile."""
    return {"after_lease_lost": True} if late else {}


def _ok(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def _job_obj(job: str | dict[str, Any]) -> dict[str, Any]:
    obj = json.loads(job) if isinstance(job, str) else dict(job)
    if not isinstance(obj, dict) or not {"host", "job_id", "dir", "pgid"} <= set(obj):
        raise ValueError("a detached job needs host, job_id, dir and pgid")
    obj.setdefault("offset", 0)
    return obj


def _with_jobs(conn: Any, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``job`` (a dict, or None) to every host run of these action dicts."""
    for action in actions:
        jobs = {r["host"]: r["job"] for r in conn.execute("SELECT host, job FROM action_hosts WHERE action_id = ?",
                                                          (action["id"],))}
        for run in action["runs"]:
            text = jobs.get(run["host"])
            run["job"] = json.loads(text) if text else None
    return actions


class Journal(PlanLog):
    """One journal file. ``Journal(path, operator).open()``; every method is synchronous and short.

    Writers raise :class:`JournalError` (and turn :attr:`writable` off) when the
    file cannot take the write; the message says what to fix.
    """

    # -- actions ------------------------------------------------------------------------------

    def action_intent(self, title: str, kind: str, command: str, hosts: list[tuple[str, str]],
                      phase: str | None = None, step: str | None = None, *, at: float | None = None) -> int:
        """Record an action before it fires (FULL); host rows start 'pending'. Returns the action id."""
        now = self._clock() if at is None else at
        title, command = strip_control(title), strip_control(command)
        runs = [(h, strip_control(c)) for h, c in dict(hosts).items()]
        with self.write("FULL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, now, step)
            cur = conn.execute(
                "INSERT INTO actions (title, kind, command, operator, phase, step, started, plan, step_fp) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (title, kind, command, self.operator, phase, step, now, *stamp))
            aid = int(cur.lastrowid or 0)
            conn.executemany("INSERT INTO action_hosts (action_id, host, command) VALUES (?, ?, ?)",
                             [(aid, h, c) for h, c in runs])
            self._log(conn, "action", now, {
                "action_id": aid, "title": title, "action_kind": kind, "command": command, "phase": phase,
                "step": step, "hosts": [h for h, _ in runs],
                "runs": [{"host": h, "command": c} for h, c in runs], **self._fields(stamp)}, aid)
        return aid

    def action_host_started(self, action_id: int, host: str, at: float) -> None:
        """Mark a host 'running'. NORMAL: the intent is already on disk and resume treats pending like running."""
        with self.write("NORMAL") as conn:
            late = bool(self.superseded(conn))
            done = conn.execute("UPDATE action_hosts SET state = 'running', started = ?, after_lease_lost = ? "
                                "WHERE action_id = ? AND host = ? AND state = 'pending'",
                                (at, int(late), action_id, host)).rowcount
            if done:
                self._log(conn, "action-host-started", at, {"action_id": action_id, "host": host,
                                                            **_late(late)}, action_id)

    def action_host_done(self, action_id: int, host: str, state: str, exit_status: int | None,
                         started: float | None, ended: float | None, output: str, truncated: bool,
                         error: str = "") -> None:
        """Record a host's outcome (FULL); keeps the last :data:`OUTPUT_LIMIT` characters of output.

        Not fenced: the command already ran, so its outcome is written even after the lease was lost, flagged
        ``after_lease_lost``.
        """
        output, truncated = _tail(output, truncated)
        with self.write("FULL") as conn:
            late = bool(self.superseded(conn))
            done = conn.execute(
                "UPDATE action_hosts SET state = ?, exit_status = ?, started = COALESCE(?, started), ended = ?, "
                "output = ?, truncated = ?, error = ?, after_lease_lost = MAX(after_lease_lost, ?) "
                "WHERE action_id = ? AND host = ?",
                (state, exit_status, started, ended, output, int(truncated), error, int(late), action_id,
                 host)).rowcount
            if done:
                started = conn.execute("SELECT started FROM action_hosts WHERE action_id = ? AND host = ?",
                                       (action_id, host)).fetchone()["started"]
                self._log(conn, "action-host-done", self._clock() if ended is None else ended, {
                    "action_id": action_id, "host": host, "state": state, "exit_status": exit_status,
                    "started": started, "ended": ended, "duration": rd.duration(started, ended),
                    "truncated": truncated, "error": error, "output_chars": len(output), **_late(late)}, action_id)

    def action_ended(self, action_id: int, at: float) -> None:
        with self.write("FULL") as conn:
            late = bool(self.superseded(conn))
            done = conn.execute("UPDATE actions SET ended = ? WHERE id = ? AND ended IS NULL", (at, action_id)).rowcount
            if done:
                counts = dict(conn.execute("SELECT state, COUNT(*) FROM action_hosts WHERE action_id = ? "
                                           "GROUP BY state ORDER BY state", (action_id,)).fetchall())
                self._log(conn, "action-ended", at, {"action_id": action_id, "states": counts, **_late(late)},
                          action_id)

    def interrupted(self) -> list[dict[str, Any]]:
        """Actions the cockpit died during: no end, hosts still pending/running. Only the lease holder's truth.

        Action dicts as :meth:`actions`, except ``hosts`` names only the hosts whose outcome is unknown.
        """
        with self.read() as conn:
            found = _with_jobs(conn, rd.action_dicts(conn, rd.open_actions(conn)))
        for action in found:
            action["hosts"] = [r["host"] for r in action["runs"] if r["state"] in rd.OPEN_STATES]
        return found

    def mark_interrupted(self, now: float, *, keep_detached: bool = False) -> list[dict[str, Any]]:
        """End the interrupted actions: their open hosts become 'interrupted' (outcome unknown). Returns them.

        As :meth:`interrupted`, read back after marking; each run also has ``was``
        (pending: may never have started; running: had started). Refused while another
        cockpit holds the lease: its actions may really be running.

        ``keep_detached``: host rows running a detached job (:meth:`detached_running`) are
        left running, and their actions open, for the caller to reattach; only the other
        open hosts are marked (and only actions with such hosts are returned).
        """
        with self.write("FULL") as conn:
            holder = self._current(conn)
            if holder is not None and not holder.ours and self._generation is None:
                raise JournalError(f"the journal {self.path} is driven by {holder.describe(now)}; its open actions "
                                   "may still be running", "take over the lease before marking actions interrupted")
            self.fence(conn)
            rows = rd.open_actions(conn)
            # host rows left alone: with keep_detached, those running a detached job
            skip = " AND job IS NULL" if keep_detached else ""
            was: dict[int, dict[str, str]] = {}
            for r in rows:
                was[r["id"]] = dict(conn.execute("SELECT host, state FROM action_hosts WHERE action_id = ? "
                                                 f"AND state IN ('pending', 'running'){skip} ORDER BY rowid",
                                                 (r["id"],)).fetchall())
            rows = [r for r in rows if was[r["id"]]]
            for r in rows:
                conn.execute("UPDATE action_hosts SET state = 'interrupted', error = CASE WHEN error = '' THEN ? "
                             f"ELSE error END WHERE action_id = ? AND state IN ('pending', 'running'){skip}",
                             (INTERRUPTED_NOTE, r["id"]))
                conn.execute("UPDATE actions SET interrupted = 1 WHERE id = ?", (r["id"],))
                conn.execute("UPDATE actions SET ended = ? WHERE id = ? AND NOT EXISTS (SELECT 1 FROM action_hosts "
                             "WHERE action_id = ? AND state IN ('pending', 'running'))", (now, r["id"], r["id"]))
                self._log(conn, "action-interrupted", now, {
                    "action_id": r["id"], "title": r["title"], "phase": r["phase"], "step": r["step"],
                    "hosts": list(was[r["id"]]), "was": was[r["id"]]}, r["id"])
            # died between the last host's end and the action's end: close quietly, nothing is unknown
            conn.execute("UPDATE actions SET ended = COALESCE((SELECT MAX(ended) FROM action_hosts "
                         "WHERE action_id = actions.id), ?) WHERE ended IS NULL AND NOT EXISTS (SELECT 1 FROM "
                         "action_hosts WHERE action_id = actions.id AND state IN ('pending', 'running'))", (now,))
            marked = _with_jobs(conn, rd.action_dicts(conn, [conn.execute("SELECT * FROM actions WHERE id = ?",
                                                                          (r["id"],)).fetchone() for r in rows]))
        for action in marked:
            action["hosts"] = list(was[action["id"]])
            for run in action["runs"]:
                run["was"] = was[action["id"]].get(run["host"], run["state"])
        return marked

    def actions(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` actions (all by default), oldest first, with host rows and output."""
        with self.read() as conn:
            rows = conn.execute("SELECT * FROM (SELECT * FROM actions ORDER BY id DESC LIMIT ?) ORDER BY id",
                                (-1 if limit is None else limit,)).fetchall()
            return _with_jobs(conn, rd.action_dicts(conn, rows))

    def last_step_action(self, step: str) -> dict[str, Any] | None:
        """The newest action fired for a runbook step (as :meth:`actions`, without output), or None."""
        with self.read() as conn:
            rows = conn.execute("SELECT * FROM actions WHERE step = ? ORDER BY id DESC LIMIT 1", (step,)).fetchall()
            found = rd.action_dicts(conn, rows, output=False)
        return found[0] if found else None

    # -- detached jobs (schema v2) ---------------------------------------------------------------

    def action_host_job(self, action_id: int, host: str, job_json: str | dict[str, Any]) -> None:
        """Record the detached job running a host's command (FULL, before anyone relies on it).

        ``job_json``: host, job_id, dir, pgid, offset (``cockpit.detach.DetachedJob.to_json``). A pending
        host becomes 'running'. Logged as ``action-host-detached`` when the job is new for the row.
        """
        job = _job_obj(job_json)
        text = json.dumps(job, ensure_ascii=False, sort_keys=True)
        now = self._clock()
        with self.write("FULL") as conn:
            row = conn.execute("SELECT job FROM action_hosts WHERE action_id = ? AND host = ?",
                               (action_id, host)).fetchone()
            if row is None:
                raise JournalError(f"the journal {self.path} has no host {host!r} in action {action_id}",
                                   "record the action's intent first (action_intent)")
            previous = json.loads(row["job"]) if row["job"] else None
            conn.execute("UPDATE action_hosts SET job = ?, started = COALESCE(started, ?), "
                         "state = CASE WHEN state = 'pending' THEN 'running' ELSE state END "
                         "WHERE action_id = ? AND host = ?", (text, now, action_id, host))
            if previous is None or previous.get("job_id") != job.get("job_id"):
                self._log(conn, "action-host-detached", now, {
                    "action_id": action_id, "host": host, "job_id": job.get("job_id"), "job_host": job.get("host"),
                    "dir": job.get("dir"), "pgid": job.get("pgid")}, action_id)

    def action_host_job_offset(self, action_id: int, host: str, offset: int) -> None:
        """Remember how much of a detached job's output has been taken (NORMAL: losing it repeats output)."""
        with self.write("NORMAL") as conn:
            row = conn.execute("SELECT job FROM action_hosts WHERE action_id = ? AND host = ?",
                               (action_id, host)).fetchone()
            if row is None or not row["job"]:
                return
            job = json.loads(row["job"])
            job["offset"] = int(offset)
            conn.execute("UPDATE action_hosts SET job = ? WHERE action_id = ? AND host = ?",
                         (json.dumps(job, ensure_ascii=False, sort_keys=True), action_id, host))

    def detached_running(self) -> list[dict[str, Any]]:
        """Host rows with a detached job and no end, oldest first: what to reattach to after a restart.

        Each: ``action_id``, ``title``, ``action_kind``, ``phase``, ``step``, ``host``, ``command``,
        ``state``, ``started`` (+ ``started_iso``), ``output`` (what was journaled so far) and ``job``
        (the dict given to :meth:`action_host_job`, with the latest ``offset``).
        """
        with self.read() as conn:
            rows = conn.execute(
                "SELECT h.*, a.title, a.kind AS action_kind, a.phase, a.step FROM action_hosts h "
                "JOIN actions a ON a.id = h.action_id WHERE h.job IS NOT NULL AND h.ended IS NULL "
                "AND h.state IN ('pending', 'running') ORDER BY h.action_id, h.rowid").fetchall()
            return [rd.with_times({
                "action_id": r["action_id"], "title": r["title"], "action_kind": r["action_kind"],
                "phase": r["phase"], "step": r["step"], "host": r["host"], "command": r["command"],
                "state": r["state"], "started": r["started"], "output": r["output"],
                "job": json.loads(r["job"])}) for r in rows]

    # -- status changes, verify and gate results (NORMAL) --------------------------------------

    def status_changes(self, events: Iterable[StatusChange]) -> int:
        """Append a batch in one NORMAL transaction; returns how many were written."""
        batch = list(events)
        if not batch:
            return 0
        with self.write("NORMAL") as conn:
            self.fence(conn)
            for e in batch:
                cur = conn.execute("INSERT INTO status_changes (at, host, service, old, new, detail) "
                                   "VALUES (?, ?, ?, ?, ?, ?)", (e.at, e.host, e.service, e.old, e.new, e.detail))
                self._log(conn, "status", e.at, {"host": e.host, "service": e.service, "old": e.old, "new": e.new,
                                                 "detail": e.detail}, int(cur.lastrowid or 0))
        return len(batch)

    def verify_result(self, step: str, host: str, ok: bool | None, detail: str = "", *,
                      at: float | None = None) -> int:
        """A step's verification on one host changed (the caller records only changes)."""
        now = self._clock() if at is None else at
        with self.write("NORMAL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, now, step)
            rid = int(conn.execute("INSERT INTO verify_results (at, step, host, ok, detail, operator, plan, step_fp) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                   (now, step, host, _ok(ok), detail, self.operator, *stamp)).lastrowid or 0)
            self._log(conn, "verify", now, {"step": step, "host": host, "ok": ok, "detail": detail,
                                            **self._fields(stamp)}, rid)
        return rid

    def gate_result(self, phase: str, ok: bool | None, detail: str = "", *, at: float | None = None) -> int:
        """A phase gate's evaluation changed (the caller records only changes)."""
        now = self._clock() if at is None else at
        with self.write("NORMAL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, now, phase)
            rid = int(conn.execute("INSERT INTO gate_results (at, phase, ok, detail, operator, plan, step_fp) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   (now, phase, _ok(ok), detail, self.operator, *stamp)).lastrowid or 0)
            self._log(conn, "gate", now, {"phase": phase, "ok": ok, "detail": detail, **self._fields(stamp)}, rid)
        return rid

    def measurement(self, phase: str, run: float, index: int, ok: bool | None, detail: str,
                    series: Sequence[Mapping[str, Any]] = (), *, at: float) -> int:
        """One measurement of a phase's analysis run (``run``: when the run started; ``index`` from 1), with
        the value and labels of every series it judged. A decision's evidence: only the lease holder writes it."""
        with self.write("NORMAL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, at, phase)
            return self._log(conn, "measurement", at, {
                "phase": phase, "run": run, "index": index, "ok": ok, "detail": strip_control(detail),
                "series": [dict(s) for s in series], **self._fields(stamp)})

    def analysis_started(self, phase: str, run: float) -> int:
        """A phase's analysis run began (its steps were done): a restarted cockpit times it from here."""
        with self.write("NORMAL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, run, phase)
            return self._log(conn, "analysis-started", run, {"phase": phase, "run": run, **self._fields(stamp)})

    def analysis_starts(self, phase: str | None = None) -> list[dict[str, Any]]:
        """Every analysis run's start, oldest first (of one phase when given)."""
        return self._log_rows("analysis-started", phase)

    def measurements(self, phase: str | None = None) -> list[dict[str, Any]]:
        """Every analysis measurement, oldest first (of one phase when given)."""
        return self._log_rows("measurement", phase)

    def _log_rows(self, kind: str, phase: str | None) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute("SELECT id, at, operator, data FROM log WHERE kind = ? ORDER BY id", (kind,))
            out = []
            for row in rows.fetchall():
                d = {"id": row["id"], "at": row["at"], "operator": row["operator"], **json.loads(row["data"])}
                if phase is None or d.get("phase") == phase:
                    out.append(rd.with_times(d))
            return out

    def verify_results(self, step: str | None = None) -> list[dict[str, Any]]:
        return self._results("verify_results", "step", step)

    def gate_results(self, phase: str | None = None) -> list[dict[str, Any]]:
        return self._results("gate_results", "phase", phase)

    def _results(self, table: str, column: str, value: str | None) -> list[dict[str, Any]]:
        where = f" WHERE {column} = ?" if value is not None else ""
        with self.read() as conn:
            rows = conn.execute(f"SELECT * FROM {table}{where} ORDER BY id", () if value is None else (value,))
            out = []
            for r in rows.fetchall():
                d = {k: r[k] for k in r.keys()}
                d["ok"] = rd.tristate(r["ok"])
                out.append(rd.with_times(d))
            return out

    def outside_call(self, kind: str, data: dict[str, Any], *, at: float | None = None) -> int:
        """A call to the outside (webhook, Alertmanager silence, Grafana annotation) and how it went.

        An outcome, not a decision: never fenced (the lost lease's own webhook is journaled too), NORMAL.
        The caller redacts; ``kind`` is the record's kind in the timeline (notify, silence, annotation…).
        """
        now = self._clock() if at is None else at
        clean = {k: strip_control(v) if isinstance(v, str) else v for k, v in data.items()}
        with self.write("NORMAL") as conn:
            return self._log(conn, strip_control(kind), now, clean)

    # -- runbook state (FULL) -------------------------------------------------------------------

    def transition(self, kind: str, target: str, state: str, reason: str = "", detail: str = "", *,
                   at: float | None = None) -> int:
        """A phase, step or the runbook changed state (overrides and skips carry a reason)."""
        now = self._clock() if at is None else at
        reason, detail = strip_control(reason), strip_control(detail)
        with self.write("FULL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, now, target if kind in ("step", "phase") else None)
            return self._insert_transition(conn, now, kind, target, state, reason, detail,
                                           stamp=self._fields(stamp))

    def states(self) -> dict[tuple[str, str], str]:
        """The latest state of every (kind, target) ever transitioned."""
        with self.read() as conn:
            rows = conn.execute("SELECT kind, target, state FROM transitions WHERE id IN "
                                "(SELECT MAX(id) FROM transitions GROUP BY kind, target)").fetchall()
            return {(r["kind"], r["target"]): r["state"] for r in rows}

    def transitions(self, target: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE target = ?", (target,)) if target is not None else ("", ())
        with self.read() as conn:
            rows = conn.execute(f"SELECT * FROM transitions {where} ORDER BY id", args).fetchall()
            return [rd.with_times({"id": r["id"], "at": r["at"], "kind": r["kind"], "target": r["target"],
                                   "state": r["state"], "reason": r["reason"], "detail": r["detail"],
                                   "operator": r["operator"], "plan": r["plan"], "step_fp": r["step_fp"]})
                    for r in rows]

    def set_hold(self, phase_id: str, since: float | None) -> None:
        """Hold a phase's gate since a time, or release it (None). Survives a restart."""
        now = self._clock()
        with self.write("FULL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, now, phase_id)
            if since is None:
                conn.execute("DELETE FROM holds WHERE phase = ?", (phase_id,))
            else:
                conn.execute("INSERT OR REPLACE INTO holds (phase, since, operator, plan, step_fp) "
                             "VALUES (?, ?, ?, ?, ?)", (phase_id, since, self.operator, *stamp))
            self._log(conn, "hold", now, {"phase": phase_id, "since": since, **self._fields(stamp)})

    def hold(self, phase_id: str) -> float | None:
        with self.read() as conn:
            row = conn.execute("SELECT since FROM holds WHERE phase = ?", (phase_id,)).fetchone()
            return None if row is None else float(row["since"])

    def holds(self) -> dict[str, float]:
        with self.read() as conn:
            return {r["phase"]: float(r["since"]) for r in conn.execute("SELECT phase, since FROM holds")}

    # -- baselines and rollbacks (FULL) ---------------------------------------------------------

    def save_baseline(self, data: dict[str, Any], at: float) -> int:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)  # a TypeError here is the caller's bug
        with self.write("FULL") as conn:
            self.fence(conn)
            plan = self._stamp(conn, at, None)[0]
            bid = int(conn.execute("INSERT INTO baselines (at, data, operator, plan) VALUES (?, ?, ?, ?)",
                                   (at, text, self.operator, plan)).lastrowid or 0)
            self._log(conn, "baseline", at, {"baseline_id": bid, **({"plan": plan} if plan else {})}, bid)
        return bid

    def latest_baseline(self) -> tuple[int, float, dict[str, Any]] | None:
        with self.read() as conn:
            row = conn.execute("SELECT id, at, data FROM baselines ORDER BY id DESC LIMIT 1").fetchone()
            return None if row is None else (int(row["id"]), float(row["at"]), json.loads(row["data"]))

    def baselines(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute("SELECT * FROM baselines ORDER BY id").fetchall()
            return [rd.with_times({"id": r["id"], "at": r["at"], "operator": r["operator"], "plan": r["plan"],
                                   "data": json.loads(r["data"])}) for r in rows]

    @staticmethod
    def _rollback_part(kind: str, target: str) -> str:
        """What a rollback's ``step_fp`` fingerprints: its step or phase, or the runbook's rollback (quick)."""
        return ROLLBACK_PART if kind == "quick" else target

    def rollback_started(self, kind: str, target: str, at: float) -> int:
        with self.write("FULL") as conn:
            self.fence(conn)
            stamp = self._stamp(conn, at, self._rollback_part(kind, target))
            rid = int(conn.execute("INSERT INTO rollbacks (kind, target, started, operator, plan, step_fp) "
                                   "VALUES (?, ?, ?, ?, ?, ?)",
                                   (kind, target, at, self.operator, *stamp)).lastrowid or 0)
            self._log(conn, "rollback-started", at, {"rollback_id": rid, "rollback_kind": kind, "target": target,
                                                     **self._fields(stamp)}, rid)
        return rid

    def rollback_ended(self, rollback_id: int, at: float, ok: bool, detail: str = "") -> bool:
        with self.write("FULL") as conn:
            row = conn.execute("SELECT kind, target, started FROM rollbacks WHERE id = ?", (rollback_id,)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE rollbacks SET ended = ?, ok = ?, detail = ? WHERE id = ?",
                         (at, int(ok), detail, rollback_id))
            stamp = self._stamp(conn, at, self._rollback_part(row["kind"], row["target"]))
            self._log(conn, "rollback-ended", at, {
                "rollback_id": rollback_id, "rollback_kind": row["kind"], "target": row["target"], "ok": ok,
                "detail": detail, "duration": rd.duration(row["started"], at), **self._fields(stamp)}, rollback_id)
        return True

    def rollbacks(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute("SELECT * FROM rollbacks ORDER BY id").fetchall()
            return [rd.with_times({
                "id": r["id"], "kind": r["kind"], "target": r["target"], "operator": r["operator"],
                "started": r["started"], "ended": r["ended"], "duration": rd.duration(r["started"], r["ended"]),
                "ok": rd.tristate(r["ok"]), "detail": r["detail"], "plan": r["plan"], "step_fp": r["step_fp"]})
                for r in rows]

    # -- reading everything ---------------------------------------------------------------------

    def timeline(self, since_id: int = 0, limit: int | None = None, *, output: bool = False) -> list[dict[str, Any]]:
        """Every record after ``since_id``, oldest first (the order written), at most ``limit``.

        Each dict has ``id`` (pass the last one back as ``since_id`` to follow), ``kind``,
        ``at`` (epoch) and ``at_iso``, ``operator`` and the record's fields. Action output is left out
        unless ``output`` (``output_chars`` says how much there is).
        """
        with self.read() as conn:
            return rd.timeline(conn, since_id, limit, output)

    def last_id(self) -> int:
        """The id of the newest record (0 when empty): ``timeline(last_id() - n)`` shows about the last n."""
        with self.read() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM log").fetchone()[0])

    def meta(self) -> dict[str, str]:
        with self.read() as conn:
            return {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
