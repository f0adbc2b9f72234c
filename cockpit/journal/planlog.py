"""Plan versions in the journal: each decision's plan and step fingerprint, each version's text once.

A cockpit tells its journal which plan it runs (:meth:`PlanLog.use_plan`); every fenced decision then
stamps its row and log record with ``plan`` (the version's fingerprint) and ``step_fp`` (the step's own),
and stores the version's normalised text in ``plans`` in the same transaction the first time it is used.
Storing it with the decision keeps the rule that only the lease holder writes. A plan change the driver
accepts is a fenced decision too (:meth:`PlanLog.accept_plan`), with the operator, a reason and the diff.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from cockpit.journal import read as rd
from cockpit.journal.lease import LeaseStore
from cockpit.plans import PlanChange, PlanVersion, diff_plans
from cockpit.sanitize import strip_control


class PlanLog(LeaseStore):
    """The plan-version records of :class:`cockpit.journal.Journal`."""

    _plan: PlanVersion | None = None

    def use_plan(self, plan: PlanVersion | None) -> None:
        """Decisions written from now on were made under ``plan`` (None: not known, written as NULL)."""
        self._plan = plan

    @property
    def plan(self) -> PlanVersion | None:
        return self._plan

    def _stamp(self, conn: sqlite3.Connection, at: float, step: str | None) -> tuple[str | None, str | None]:
        """(plan, step_fp) for a decision being written in ``conn``; stores the plan's text the first time."""
        plan = self._plan
        if plan is None:
            return None, None
        conn.execute("INSERT OR IGNORE INTO plans (fingerprint, at, operator, text) VALUES (?, ?, ?, ?)",
                     (plan.fingerprint, at, self.operator, plan.text))
        return plan.fingerprint, plan.step(step)

    @staticmethod
    def _fields(stamp: tuple[str | None, str | None]) -> dict[str, str]:
        """The log record's fields for a stamp (left out when no plan is known)."""
        plan, step_fp = stamp
        out = {"plan": plan} if plan else {}
        if step_fp:
            out["step_fp"] = step_fp
        return out

    def accept_plan(self, plan: PlanVersion, reason: str, *, at: float | None = None,
                    also: Sequence[PlanChange] = ()) -> int:
        """The driver accepts ``plan`` (fenced, FULL): journaled with the operator, the reason and the diff
        from the last accepted version, plus ``also`` (hosts added, removed or changed, which the plan's text
        holds only where a step names them). Decisions from now on are made under it. Returns the change's id."""
        now = self._clock() if at is None else at
        reason = strip_control(reason)
        with self.write("FULL") as conn:
            self.fence(conn)
            old = conn.execute("SELECT c.new, p.text FROM plan_changes c JOIN plans p ON p.fingerprint = c.new "
                               "ORDER BY c.id DESC LIMIT 1").fetchone()
            conn.execute("INSERT OR IGNORE INTO plans (fingerprint, at, operator, text) VALUES (?, ?, ?, ?)",
                         (plan.fingerprint, now, self.operator, plan.text))
            changes = [*(diff_plans(old["text"], plan.text) if old is not None else []), *also]
            diff = [{"what": c.what, "target": c.target, "fields": list(c.fields), "lines": list(c.lines)}
                    for c in changes]
            cur = conn.execute("INSERT INTO plan_changes (at, operator, old, new, reason, diff) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (now, self.operator, old["new"] if old else None, plan.fingerprint, reason,
                                json.dumps(diff, ensure_ascii=False)))
            cid = int(cur.lastrowid or 0)
            self._log(conn, "plan-accepted", now, {"plan": plan.fingerprint, "old": old["new"] if old else None,
                                                   "reason": reason, "diff": diff}, cid)
        self._plan = plan
        return cid

    def last_accepted_plan(self) -> dict[str, Any] | None:
        """The newest accepted plan change (as :meth:`plan_changes`, with the plan's ``text``), or None."""
        changes = self.plan_changes(last=True)
        if not changes:
            return None
        change = changes[0]
        change["text"] = self.plan_text(change["new"])
        return change

    def plan_changes(self, *, last: bool = False) -> list[dict[str, Any]]:
        """Accepted plan changes, oldest first: id, at, operator, old, new, reason, diff (list of dicts)."""
        order = "DESC LIMIT 1" if last else "ASC"
        with self.read() as conn:
            rows = conn.execute(f"SELECT * FROM plan_changes ORDER BY id {order}").fetchall()
            return [rd.with_times({"id": r["id"], "at": r["at"], "operator": r["operator"], "old": r["old"],
                                   "new": r["new"], "reason": r["reason"], "diff": json.loads(r["diff"])})
                    for r in rows]

    def last_step_runs(self) -> list[dict[str, Any]]:
        """Per step that ran: its last step action (step, started, operator, command, plan), no host rows."""
        with self.read() as conn:
            rows = conn.execute("SELECT step, started, operator, command, plan FROM actions WHERE id IN "
                                "(SELECT MAX(id) FROM actions WHERE kind = 'step' AND step IS NOT NULL "
                                "GROUP BY step) ORDER BY id").fetchall()
            return [rd.with_times({k: r[k] for k in r.keys()}) for r in rows]

    def plan_text(self, fingerprint: str) -> str | None:
        """The normalised text of a plan version the journal keeps, or None."""
        with self.read() as conn:
            row = conn.execute("SELECT text FROM plans WHERE fingerprint = ?", (fingerprint,)).fetchone()
            return None if row is None else str(row["text"])

    def plans(self) -> list[dict[str, Any]]:
        """Every plan version kept, in the order first used: fingerprint, at, operator (no text)."""
        with self.read() as conn:
            rows = conn.execute("SELECT fingerprint, at, operator FROM plans ORDER BY at, rowid").fetchall()
            return [rd.with_times({"fingerprint": r["fingerprint"], "at": r["at"], "operator": r["operator"]})
                    for r in rows]
