"""What the commands share: exit codes, finding and loading the config, the operator's name, the sudo
prompt, writing a file atomically, confirming on a terminal, printing the plan and an action's output.

Every command module imports it; it imports none of them, so the package has no cycle.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from cockpit.config import find_config, load_config
from cockpit.errors import UsageError
from cockpit.runbook import PlanView
from cockpit.sanitize import strip_control
from cockpit.shutdown import SignalStop, interruptible
from cockpit.spec import Config
from cockpit.sudo import SudoPassword

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
GLYPH = {"done": "●", "overridden": "◍", "running": "◔", "verifying": "◔", "failed": "✖", "partial": "◐",
         "skipped": "↷", "rolled-back": "↶", "interrupted": "⚠", "pending": "○", "open": "○", "locked": "·",
         "holding": "◔", "failing": "✖"}


def operator_name(value: str | None) -> str:
    """Who drives: journaled and shown to every cockpit on the journal, so stripped like any outside text."""
    return strip_control(value or os.environ.get("COCKPIT_OPERATOR") or getpass.getuser())


def ask_sudo_password() -> SudoPassword:
    if not sys.stdin.isatty():
        raise UsageError("--ask-sudo needs a terminal to read the password from", "run it in a terminal")
    return SudoPassword.ask_terminal("sudo password (kept in memory only): ")


def config_path(args: argparse.Namespace) -> Path:
    """The config file: the command's own argument, then ``-c``, then $COCKPIT_CONFIG, then ./cockpit.toml."""
    value = getattr(args, "file", None) or getattr(args, "config_sub", None) or args.config
    return find_config(value)


def write_atomic(path: Path, text: str) -> None:
    """Write beside the target then rename, so a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", "choose a writable path for -o") from None


def _operator(args: argparse.Namespace) -> str:
    return operator_name(getattr(args, "operator", None))


def _load(args: argparse.Namespace) -> Config:
    return load_config(config_path(args))


def _need_runbook(config: Config) -> None:
    if not config.runbook.phases:
        raise UsageError(f"{config.path} has no runbook", "add [[phases]] with [[phases.steps]] (docs/config.md)")


def render_plan(view: PlanView) -> str:
    lines = []
    for ph in view.phases:
        hold = ""
        if ph.hold:
            left = ph.hold_left
            hold = f"  hold {ph.hold:g}s" + (f", {left:.0f}s left" if left is not None else "")
        gate = ""
        if ph.gate is not None:
            mark = {True: "holds", False: "FAILS", None: "inconclusive"}[ph.gate.value]
            if ph.analysis is not None and ph.analysis.state == "running":
                mark = "measuring"  # an analysis run not decided yet
            gate = f"  gate {mark}: {ph.gate.detail}"
        lines.append(f"{GLYPH.get(ph.state, '?')} {ph.id}  {ph.title}  [{ph.state}]{hold}{gate}")
        lines += [f"    why: {r}" for r in ph.reasons()
                  if not r.startswith(("gate FAILS", "gate holds", "gate inc", "gate meas"))]
        if ph.analysis is not None:
            lines.append(f"    {ph.analysis.summary()}")
            lines += [f"        {m.line()}" for m in ph.analysis.measurements]
        for st in ph.steps:
            who = "manual" if st.manual else ", ".join(st.hosts)
            lines.append(f"    {GLYPH.get(st.state, '?')} {st.ref}  {st.title}  [{st.state}]  on {who}"
                         + (f"  {st.detail}" if st.detail else ""))
            if st.changed:
                lines.append(f"        ⚠ {st.changed}")
            for c in st.checks:
                mark = {True: "✔", False: "✖", None: "…"}[c.ok]
                lines.append(f"        {mark} {c.host}: {c.detail}")
            if st.state == "pending" and not st.checks:
                lines.append(f"        why: {st.reasons()[0]}" if st.reasons() else "")
    if view.driver:
        lines.append(("observer; driver: " if view.observer else "driver: ") + view.driver)
    for line in view.interrupted:
        lines.append(f"⚠ interrupted: {line}")
    for line in view.removed:
        lines.append(f"⚠ removed after running: {line}")
    for line in view.regressions:
        lines.append(f"REGRESSION {line}")
    lines.append(f"Outcome: {outcome(view)}")
    return "\n".join(line for line in lines if line) + "\n"


def outcome(view: PlanView) -> str:
    """One line: rolled back (which, when, by whom, why, time vs budget), ROLLBACK FAILED, completed, in progress."""
    if view.rollback is not None:
        return view.rollback.outcome()
    if view.phases and view.current is None:
        return "completed"
    current = next((p for p in view.phases if p.id == view.current), None)
    return f"in progress: phase {current.id} {current.state}" if current else "no phases"


def plan_json(view: PlanView) -> list[dict[str, Any]]:
    """``cockpit plan --json``: every phase and step with its state and why (a rolled-back phase names its rollback)."""
    rb = view.rollback
    return [{"id": p.id, "title": p.title, "state": p.state, "reason": list(p.reasons()),
             **({"rolled_back_by": rb.outcome()} if rb is not None and p.state == "rolled-back" else {}),
             **({"analysis": {"state": p.analysis.state, "summary": p.analysis.summary(),
                              "decided_by": p.analysis.decided_by,
                              "measurements": [m.as_json() for m in p.analysis.measurements]}}
                if p.analysis is not None else {}),
             "steps": [{"ref": s.ref, "title": s.title, "state": s.state, "reason": list(s.reasons())}
                       for s in p.steps],
             "removed_after_running": [  # steps of this phase that ran, gone from the plan since
                 {"ref": r.ref, "title": r.title, "state": r.state, "last_run": r.started,
                  "operator": r.operator, "plan": r.plan, "command": r.command}
                 for r in view.removed_steps if r.ref.partition(".")[0] == p.id]} for p in view.phases]


def _confirm(prompt: str, expected: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        with interruptible():  # input() blocks the event loop: a signal must still end the command
            return input(f"{prompt} ").strip() == expected
    except EOFError:
        return False


class _Printer:
    """Streams an action's output as ``[host] line`` (already sanitised and redacted)."""

    def __init__(self) -> None:
        self.partial: dict[str, str] = {}

    def action_changed(self, run: Any) -> None:
        for r in run.runs:
            if r.state in ("ok", "failed", "timeout", "cancelled", "error") and r.host in self.partial:
                rest = self.partial.pop(r.host)
                if rest:
                    print(f"[{r.host}] {rest}")

    def action_output(self, action_id: int, host: str, text: str, skipped: int = 0) -> None:
        buf = self.partial.get(host, "") + text
        *lines, rest = buf.split("\n")
        for line in lines:
            print(f"[{host}] {line}")
        self.partial[host] = rest
        sys.stdout.flush()


def sudo_password(args: argparse.Namespace) -> Any:
    """``--ask-sudo``: the password, asked once on the terminal before anything connects; else None."""
    if not getattr(args, "ask_sudo", False):
        return None
    return ask_sudo_password()


async def driving_session(config: Config, args: argparse.Namespace, fix: str, password: Any = None,
                          stop: SignalStop | None = None) -> Any:
    """A Session holding the runbook's lease; an observer is refused with the driver's name and ``fix``.

    With ``stop``, a signal cancels this session's actions (see :mod:`cockpit.shutdown`).
    """
    from cockpit.session import Session

    s = Session(config, _operator(args))
    if s.journal_error is not None:  # path and cause, not a later "the journal could not be opened"
        await s.close()
        raise s.journal_error
    if stop is not None:
        stop.session = s
    if password is not None:
        s.engine.actions.set_sudo_password(password)
    if s.observer:
        driver = s.runbook.driver
        await s.close()
        raise UsageError(f"this is an observer: {driver} drives the runbook", fix)
    return s
