"""Live output of the current action, one tab per host, with exit status and duration when done.

The engine hands this pane batches of complete lines, at most ten a second per action and only the
latest lines of each (:mod:`cockpit.engine.spool`); the whole output is in the host's spool file,
whose path the pane shows when the host ends.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog, Static, TabbedContent, TabPane

from cockpit.engine import ActionRun, HostRun
from screens import render

RUN_STYLE = {"ok": "green", "failed": "bold red", "timeout": "bold red", "error": "bold red",
             "cancelled": "yellow", "running": "cyan", "pending": "dim"}


def _pane_id(action_id: int, host: str) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in host)
    return f"out-{action_id}-{safe}-{abs(hash(host)) % 10**6}"


def run_line(r: HostRun) -> Text:
    """``● ok exit 0 in 1.2s`` for a host's part of an action."""
    t = Text(f"{r.state}", style=RUN_STYLE.get(r.state, ""))
    if r.exit_status is not None:
        t.append(f" exit {r.exit_status}")
    elif r.signal:
        t.append(f" killed by {render.clean(r.signal)}", style="bold red")
    if r.duration is not None and r.state not in ("pending",):
        t.append(f" in {r.duration:.1f}s", style="dim")
    if r.error:
        t.append(": ")
        t.append(render.plain(r.error))
    return t


class OutputPane(Vertical):
    """Shows one action at a time (the newest); the host detail screen keeps older ones."""

    DEFAULT_CSS = """
    OutputPane { height: 1fr; }
    OutputPane > #out-head { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    OutputPane RichLog { height: 1fr; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.run: ActionRun | None = None
        self._partial: dict[str, str] = {}
        self._finished_hosts: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static(Text("no action yet: p probes, ! runs a command, ? lists every key", style="dim"), id="out-head")
        yield TabbedContent(id="out-tabs")

    @property
    def current_host(self) -> str | None:
        if self.run is None:
            return None
        tabs = self.query_one("#out-tabs", TabbedContent)
        for r in self.run.runs:
            if _pane_id(self.run.id, r.host) == tabs.active:
                return r.host
        return None

    async def show(self, run: ActionRun) -> None:
        """Switch to a new action: one tab per host."""
        self.run = run
        self._partial.clear()
        self._finished_hosts.clear()
        tabs = self.query_one("#out-tabs", TabbedContent)
        await tabs.clear_panes()
        for r in run.runs:
            log = RichLog(wrap=False, markup=False, highlight=False, max_lines=5000, auto_scroll=True)
            await tabs.add_pane(TabPane(r.host, log, id=_pane_id(run.id, r.host)))
        self.update_run(run)

    def update_run(self, run: ActionRun) -> None:
        if self.run is None or run.id != self.run.id:
            return
        self.run = run
        head = Text()
        head.append(render.clean(run.title), style="bold")
        head.append(f"  [{run.summary()}]", style="dim")
        head.append("\n$ ")
        head.append(render.plain(run.command))
        head.append("\n")
        for i, r in enumerate(run.runs[:6]):
            if i:
                head.append("  ")
            head.append(render.plain(r.host) + " ")
            head.append_text(run_line(r))
        if len(run.runs) > 6:
            head.append(f"  … {len(run.runs) - 6} more")
        head.no_wrap = True
        head.overflow = "ellipsis"
        self.query_one("#out-head", Static).update(head)  # text-safe: Text
        for r in run.runs:
            if r.state in ("ok", "failed", "timeout", "cancelled", "error") and r.host not in self._finished_hosts:
                log = self._log(r.host)
                if log is None:
                    continue
                self._flush(r.host, final=True)
                log.write(Text("── ").append_text(run_line(r)))
                if r.state != "ok" and r.stderr.strip():  # why it failed, even when stdout flooded the tab
                    for line in [ln for ln in r.stderr.splitlines() if ln.strip()][-3:]:
                        log.write(Text("   stderr: ", style="red").append_text(render.plain(line)))
                if r.spool:
                    note = f"   {r.lines} lines, all in {r.spool}"
                    if r.dropped:
                        note = f"   {r.lines} lines, {r.dropped} dropped by the spool's cap: {r.spool}"
                    log.write(Text(note, style="dim"))  # text-safe: a path, not markup
                self._finished_hosts.add(r.host)

    def _log(self, host: str) -> RichLog | None:
        if self.run is None:
            return None
        try:
            return self.query_one(f"#{_pane_id(self.run.id, host)}", TabPane).query_one(RichLog)
        except Exception:
            return None

    def append(self, action_id: int, host: str, text: str, skipped: int = 0) -> None:
        """Write whole lines as they complete; a partial line waits for its end (or the action's)."""
        if self.run is None or action_id != self.run.id:
            return
        if skipped:
            log = self._log(host)
            if log is not None:
                self._flush(host, final=True)
                log.write(Text(f"… {skipped} lines not shown here (all in the output spool)", style="dim italic"))
        self._partial[host] = self._partial.get(host, "") + text
        self._flush(host, final=False)

    def _flush(self, host: str, final: bool) -> None:
        log = self._log(host)
        pending = self._partial.get(host, "")
        if log is None or not pending:
            self._partial.pop(host, None) if final else None
            return
        if final:
            lines, rest = pending.split("\n"), ""
            if lines and lines[-1] == "":
                lines.pop()
        else:
            *lines, rest = pending.split("\n")
        if lines:  # one write per batch: RichLog copies its 5,000 kept lines and scrolls on every write
            log.write(Text("\n".join(lines).replace("\t", "    ")))
        if final:
            self._partial.pop(host, None)
        else:
            self._partial[host] = rest
