"""What every section of the cutover report stands on: the journal read once, text made safe, lookups.

:class:`ReportBase` reads the journal up front (one consistent-enough picture,
deterministic order); the sections (:mod:`cockpit.report.overview`,
:mod:`cockpit.report.details`) are mixins over it, put together in
:mod:`cockpit.report`. Every piece of journal or config text goes through
:meth:`ReportBase.t` or :meth:`ReportBase.fence` before it is written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from cockpit.durations import format_duration
from cockpit.exports import utc
from cockpit.history import History
from cockpit.inventory import select
from cockpit.journal import Journal
from cockpit.model import FleetSnapshot
from cockpit.sanitize import escape_markdown_cell, strip_control
from cockpit.secrets import Redactor
from cockpit.spec import Config, StepSpec

OUTPUT_TAIL_LINES = 40  # lines of a failed host's output shown (its tail)
OUTPUT_TAIL_CHARS = 4000  # ... and at most this many characters of them
STATUS_RECENT_LIMIT = 50  # most recent status changes listed one by one
STATUS_PAIRS_LIMIT = 100  # host/service rows in the status-change count table
GATE_FAILURES_LIMIT = 5  # failed gate evaluations listed per phase (the latest ones)
DETAIL_LIMIT = 300  # characters of a status/verify/gate detail in a cell

PHASE_END_STATES = ("done", "overridden", "rolled-back")
REASON_STATES = ("overridden", "skipped", "taken-over")
OK, BAD, UNKNOWN = "✔", "✖", "?"


# ------------------------------------------------------------------------------------- helpers

def _iso(ts: float | None) -> str:
    return utc(ts) or "–"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return format_duration(round(seconds, 1) if abs(seconds) >= 1 else round(seconds, 3))


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _mark(ok: bool | None) -> str:
    return OK if ok is True else BAD if ok is False else UNKNOWN


def _run_result(run: dict[str, Any]) -> str:
    exit_status = run.get("exit_status")
    return run["state"] + ("" if exit_status is None else f" (exit {exit_status})")


def _longest_backticks(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


class ReportBase:
    """One report's data: the journal read once, plus the text helpers and lookups the sections share."""

    def __init__(self, config: Config, journal: Journal, final: FleetSnapshot | None, history: History | None,
                 redactor: Redactor | None, now: float | None) -> None:
        self.config = config
        self.spec = config.runbook
        self.journal = journal
        self.final = final
        self.history = history if history is not None else History()
        secrets = set(config.secrets) | set(redactor.secrets if redactor is not None else ())
        self.redactor = Redactor(secrets)
        self.now = time.time() if now is None else now
        # everything is read up front: one consistent-enough picture, deterministic order
        self.log = sorted(journal.timeline(), key=lambda r: (r["at"], r["id"]))
        self.actions = journal.actions()
        self.by_action = {a["id"]: a for a in self.actions}
        self.transitions = journal.transitions()  # ordered by id
        self.verify = journal.verify_results()
        self.gates = journal.gate_results()
        self.measurements = journal.measurements()  # analysis runs' measurements, every run of every phase
        self.rollbacks = journal.rollbacks()
        self.holds = journal.holds()
        self.baseline = journal.latest_baseline()
        self.status = [r for r in self.log if r["kind"] == "status"]
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}
        for t in self.transitions:
            self.latest[(t["kind"], t["target"])] = t

    # -- text --------------------------------------------------------------------------------

    def clean(self, text: object) -> str:
        """Control sequences stripped and secrets masked (before and after, so neither hides the other)."""
        s = "" if text is None else str(text)
        return self.redactor.redact(strip_control(self.redactor.redact(s)))

    def t(self, text: object, limit: int | None = None) -> str:
        """Text for a table cell or a line of prose: cleaned, on one line, Markdown-escaped."""
        s = self.clean(text)
        if limit is not None:
            s = " ".join(s.split())
            if len(s) > limit:
                s = s[: limit - 1] + "…"
        return escape_markdown_cell(s)

    def fence(self, text: str) -> list[str]:
        """A fenced block showing ``text`` verbatim: its fence is longer than any backtick run inside."""
        body = self.clean(text).expandtabs(8)
        ticks = "`" * max(3, _longest_backticks(body) + 1)
        return [f"{ticks}text", *(body.splitlines() or [""]), ticks]

    def hosts(self, names: Iterable[str]) -> str:
        return ", ".join(self.t(n) for n in names) or "–"

    # -- lookups ---------------------------------------------------------------------------

    def step_hosts(self, step: StepSpec, ref: str) -> list[str]:
        out: list[str] = []
        for sel in step.on:
            out += [h.name for h in select(self.config.hosts, sel) if h.name not in out]
        for a in self.actions:
            if a["step"] == ref:
                out += [h for h in a["hosts"] if h not in out]
        return out

    def phase_state(self, phase_id: str, step_refs: list[str]) -> str:
        t = self.latest.get(("phase", phase_id))
        if t is not None:
            return t["state"]
        touched = any(("step", ref) in self.latest for ref in step_refs) or any(
            a["phase"] == phase_id for a in self.actions)
        return "in progress" if touched else "not started"

    def phase_span(self, phase_id: str, step_refs: list[str]) -> tuple[float | None, float | None]:
        """Start: the first transition of the phase or its steps (or its first action); end: its last
        done / overridden / rolled-back transition, when that is the phase's current state."""
        mine = {("phase", phase_id)} | {("step", ref) for ref in step_refs}
        times = [t["at"] for t in self.transitions if (t["kind"], t["target"]) in mine]
        times += [a["started"] for a in self.actions if a["phase"] == phase_id or a["step"] in step_refs]
        start = min(times) if times else None
        end = None
        latest = self.latest.get(("phase", phase_id))
        if latest is not None and latest["state"] in PHASE_END_STATES:
            end = latest["at"]
        return start, end

    def failed_runs(self, action: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in action["runs"] if r["state"] != "ok"]

    def action_result(self, action: dict[str, Any]) -> str:
        """"ok: web1, web2; failed (exit 1): web3" (hosts grouped by outcome, in host order)."""
        groups: dict[str, list[str]] = {}
        for r in action["runs"]:
            groups.setdefault(_run_result(r), []).append(r["host"])
        return "; ".join(f"{self.t(k)}: {self.hosts(v)}" for k, v in groups.items()) or "no hosts"

    def rollback_budget(self, rb: dict[str, Any]) -> float:
        """A named rollback's own budget (its kind is its name); step and phase rollbacks: the runbook's."""
        named = self.spec.named_rollback(rb["kind"]) if rb["kind"] not in ("step", "phase") else None
        return named.budget if named is not None else self.spec.rollback_budget

    def rollback_outcome(self) -> str | None:
        """The Outcome line after a rollback, from the journal alone: None when no rollback is the outcome
        (none ran, or every phase it undid was reopened)."""
        if not self.rollbacks:
            return None
        rb = self.rollbacks[-1]
        rolled = [t for (k, t), tr in self.latest.items() if k == "phase" and tr["state"] == "rolled-back"]
        if rb["ok"] is True and not rolled:
            return None
        when = time.strftime("%H:%M UTC", time.gmtime(rb["started"]))  # the report's times are UTC
        reasons = [t["reason"] for t in self.transitions if t["kind"] == "runbook" and t["target"] == f"rollback#{rb['id']}"]
        why = f" ({self.t(reasons[-1])})" if reasons else ""
        named = self.spec.named_rollback(rb["kind"]) if rb["kind"] not in ("step", "phase") else None
        title = named.title if named else f"{rb['kind']} {rb['target']} rollback"
        took = _dur(rb["duration"]) if rb["duration"] is not None else "not ended"
        budget = self.rollback_budget(rb)
        head = {True: f"{BAD} rolled back", False: f"{BAD} ROLLBACK FAILED", None: f"{UNKNOWN} rollback not ended"}[rb["ok"]]
        line = (f"{head} at {when} by {self.t(rb['operator'])}{why}; {self.t(title)} {took} of {_dur(budget)} budget"
                + (" (OVER budget)" if rb["duration"] is not None and rb["duration"] > budget else ""))
        if rb["ok"] is False and rb["detail"]:
            line += ": " + "; ".join(self.t(ln) for ln in rb["detail"].splitlines())
        if rolled:
            line += f"; phases rolled back: {self.hosts(rolled)}"
        closed = [t for t in self.transitions
                  if (t["kind"], t["target"]) == ("runbook", "cutover") and t["at"] >= rb["started"]]
        if closed:
            line += f"; closed as rolled back by {self.t(closed[-1]['operator'])}: {self.t(closed[-1]['reason'])}"
        return line

    def budget_verdict(self, rb: dict[str, Any]) -> str:
        budget = self.rollback_budget(rb)
        if rb["duration"] is None:
            return f"{UNKNOWN} not ended (budget {_dur(budget)})"
        if rb["duration"] <= budget:
            return f"{OK} within budget ({_dur(rb['duration'])} ≤ {_dur(budget)})"
        return f"{BAD} over budget ({_dur(rb['duration'])} > {_dur(budget)}, by {_dur(rb['duration'] - budget)})"
