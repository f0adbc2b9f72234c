"""Live output of the current action, one tab per host plus a merged tab, with search, wrap, save and copy.

The engine hands this pane batches of complete lines, at most ten a second per action and only the
latest lines of each (:mod:`cockpit.engine.spool`); the whole output is in each host's spool file. What
the pane searches (``/``, ``n``, ``N``), saves (``D``), copies (``Y``) and shows again after a wrap toggle
(``W``) or in the merged tab is read from those files (:mod:`screens.widgets.output_view`), never from
the log widgets. A rolling step's batches are one view: its hosts' tabs fill batch after batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, RichLog, Static, TabbedContent, TabPane

from cockpit.engine import ActionRun, HostRun, read_tail
from screens import render
from screens.widgets import output_view
from screens.widgets.output_keys import OutputKeys, _Search
from screens.widgets.output_view import MERGED

RUN_STYLE = {"ok": "green", "failed": "bold red", "timeout": "bold red", "error": "bold red",
             "cancelled": "yellow", "running": "cyan", "pending": "dim"}
FINAL = frozenset({"ok", "failed", "timeout", "cancelled", "error"})
SHOWN_LINES = 5000  # lines a tab keeps (and shows again from the spool)
TICK = 1.0  # seconds between two redraws of the elapsed times while something runs


def _pane_id(group: int, host: str) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in host)
    return f"out-{group}-{safe}-{abs(hash(host)) % 10**6}"


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


@dataclass
class _Tab:
    """What the pane knows of one host's tab beyond the widget: the line count to skip after a redraw."""

    received: int = 0  # complete lines handed to this tab (shown or skipped)
    skip_until: int = 0  # a redraw from the spool already showed the lines up to here
    partial: str = ""
    ended: bool = False
    footer: list[Text] = field(default_factory=list)


class OutputPane(OutputKeys, Vertical):
    """Shows one action (or every batch of a rolling step) at a time; the host detail screen keeps older ones."""

    DEFAULT_CSS = """
    OutputPane { height: 1fr; }
    OutputPane > #out-head { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    OutputPane > #out-tabs { height: 1fr; }
    OutputPane RichLog { height: 1fr; }
    OutputPane > #out-find { display: none; }
    OutputPane > #out-find.-active { display: block; }
    OutputPane > #out-status { height: auto; max-height: 2; padding: 0 1; display: none; background: $boost; }
    OutputPane > #out-status.-active { display: block; }
    """

    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/", tooltip="Search the tab's whole output (its spool)"),
        Binding("n", "next_match", "Next", tooltip="Next match"),
        Binding("N", "previous_match", "Prev", tooltip="Previous match"),
        Binding("W", "toggle_wrap", "Wrap", tooltip="Wrap long lines, or not"),
        Binding("D", "save", "Save", tooltip="Save the tab's whole output to a file (the path is shown)"),
        Binding("Y", "copy", "Copy", tooltip="Copy the host's output to the clipboard (OSC 52; [cockpit] clipboard)"),
        Binding("escape", "end_search", "End search", show=False),
        Binding("up", "scroll('up')", "Scroll up", show=False),
        Binding("down", "scroll('down')", "Scroll down", show=False),
        Binding("pageup", "scroll('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll('page_down')", "Page down", show=False),
        Binding("home", "scroll('home')", "Top", show=False),
        Binding("end", "scroll('end')", "Bottom", show=False),
    ]
    #: the pane holds the focus, never a tab's log: a focused log hidden by a tab switch hands focus to
    #: Textual's nearest focusable neighbour, which may sit in another (hidden) tab, and TabbedContent then
    #: activates that tab (Output flipped back to Fleet at 120 columns and wider; see DashboardScreen.action_tab)
    can_focus = True

    class CopyRequested(Message):
        """The operator asked to copy a host's output; the App decides (clipboard use is opt-in)."""

        def __init__(self, host: str, text: str, lines: int, cut: bool) -> None:
            super().__init__()
            self.host, self.text, self.lines, self.cut = host, text, lines, cut

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.runs: list[ActionRun] = []
        self.wrap = False
        self._tabs: dict[str, _Tab] = {}
        self._search: _Search | None = None
        self._merged_dirty = False

    def compose(self) -> ComposeResult:
        yield Static(Text("no action yet: p probes, ! runs a command, ? lists every key", style="dim"), id="out-head")
        yield TabbedContent(id="out-tabs")
        yield Input(placeholder="search this tab's whole output (from its spool); Enter finds, Escape closes",
                    id="out-find")
        yield Static(id="out-status")

    def on_mount(self) -> None:
        self.set_interval(TICK, self._tick)

    # -- what is shown --------------------------------------------------------------------

    @property
    def run(self) -> ActionRun | None:
        """The newest action of the view (a rolling step's current batch)."""
        return self.runs[-1] if self.runs else None

    @property
    def group(self) -> int:
        return self.runs[0].group_id if self.runs else 0

    def _hosts(self) -> list[tuple[ActionRun, HostRun]]:
        """Each host of the view with its batch (a host in two batches: the later one)."""
        seen: dict[str, tuple[ActionRun, HostRun]] = {}
        for run in self.runs:
            for hr in run.runs:
                seen[hr.host] = (run, hr)
        return list(seen.values())

    @property
    def current_view(self) -> str | None:
        """The active tab: a host, MERGED, or None before any action."""
        if not self.runs:
            return None
        active = self.query_one("#out-tabs", TabbedContent).active
        if active == self._merged_id():
            return MERGED
        for _run, hr in self._hosts():
            if _pane_id(self.group, hr.host) == active:
                return hr.host
        return None

    @property
    def current_host(self) -> str | None:
        view = self.current_view
        return None if view == MERGED else view

    def _merged_id(self) -> str:
        return f"out-{self.group}-merged"

    def focus_view(self) -> None:
        """Focus the pane (keys like ``/`` then act on the output; arrows scroll the active tab)."""
        self.focus()

    def action_scroll(self, how: str) -> None:
        log = self._view_log(self.current_view)
        if log is not None:
            getattr(log, f"scroll_{how}")(animate=False)

    def _new_log(self) -> RichLog:
        log = RichLog(wrap=self.wrap, markup=False, highlight=False, max_lines=SHOWN_LINES, auto_scroll=True)
        log.can_focus = False  # see can_focus above
        return log

    async def show(self, run: ActionRun) -> None:
        """A new action: one tab per host and a merged tab; a rolling step's next batch joins its view."""
        tabs = self.query_one("#out-tabs", TabbedContent)
        if self.runs and run.group_id == self.group and run.group:
            self.runs.append(run)
            merged = self._merged_id()
            for r in run.runs:
                if r.host not in self._tabs:
                    self._tabs[r.host] = _Tab()
                    pane = TabPane(r.host, self._new_log(), id=_pane_id(self.group, r.host))
                    await tabs.add_pane(pane, before=merged if tabs.query(f"#{merged}") else None)
            if not tabs.query(f"#{merged}"):
                await tabs.add_pane(TabPane("all (merged)", self._new_log(), id=merged))
            self.update_run(run)
            return
        self._end_search(redraw=False)
        self.runs = [run]
        self._tabs = {r.host: _Tab() for r in run.runs}
        await tabs.clear_panes()
        for r in run.runs:
            await tabs.add_pane(TabPane(r.host, self._new_log(), id=_pane_id(self.group, r.host)))
        if len(run.runs) > 1:
            await tabs.add_pane(TabPane("all (merged)", self._new_log(), id=self._merged_id()))
        self.update_run(run)

    def update_run(self, run: ActionRun) -> None:
        """A new snapshot of one of the view's actions: the head, and each host that ended its footer."""
        for i, old in enumerate(self.runs):
            if old.id == run.id:
                self.runs[i] = run
                break
        else:
            return
        self._render_head()
        for r in run.runs:
            tab = self._tabs.get(r.host)
            if r.state in FINAL and tab is not None and not tab.ended:
                self._flush(r.host, final=True)
                tab.ended = True
                tab.footer = self._footer(r)
                log = self._view_log(r.host)
                if log is not None and not self._searching(r.host):
                    for line in tab.footer:
                        log.write(line)  # text-safe: Text from _footer
                self._merged_dirty = True
        if self._merged_dirty and self.current_view == MERGED and not self._searching(MERGED):
            self._render_merged()

    def _render_head(self) -> None:
        if not self.runs:
            return
        run = self.runs[-1]
        hosts = self._hosts()
        counts: dict[str, int] = {}
        for _r, hr in hosts:
            counts[hr.state] = counts.get(hr.state, 0) + 1
        head = Text()
        head.append(render.clean(run.title), style="bold")
        head.append(f"  [{', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}]", style="dim")
        if run.batch:
            head.append(f"  {render.clean(run.batch)}, every batch's hosts below", style="dim")
        head.append("\n$ ")
        head.append(render.plain(run.command))
        head.append("\n")
        for i, (_r, hr) in enumerate(hosts[:6]):
            if i:
                head.append("  ")
            head.append(render.plain(hr.host) + " ")
            head.append_text(run_line(hr))
        if len(hosts) > 6:
            head.append(f"  … {len(hosts) - 6} more")
        head.no_wrap = True
        head.overflow = "ellipsis"
        self.query_one("#out-head", Static).update(head)  # text-safe: Text

    def _tick(self) -> None:
        """While a host runs, its elapsed time moves (it was drawn once, at ``running in 0.5s``)."""
        if any(hr.state in ("running", "pending") for _r, hr in self._hosts()):
            self._render_head()
            if self._merged_dirty and self.current_view == MERGED and not self._searching(MERGED):
                self._render_merged()

    def _footer(self, r: HostRun) -> list[Text]:
        out = [Text("── ").append_text(run_line(r))]
        if r.state != "ok" and r.stderr.strip():  # why it failed, even when stdout flooded the tab
            for line in [ln for ln in r.stderr.splitlines() if ln.strip()][-3:]:
                out.append(Text("   stderr: ", style="red").append_text(render.plain(line)))
        if r.spool:
            note = f"   {r.lines} lines, all in {r.spool}"
            if r.dropped:
                note = f"   {r.lines} lines, {r.dropped} dropped by the spool's cap: {r.spool}"
            out.append(Text(note, style="dim"))  # text-safe: a path, not markup
        return out

    def _view_log(self, view: str | None) -> RichLog | None:
        if not self.runs or view is None:
            return None
        pane_id = self._merged_id() if view == MERGED else _pane_id(self.group, view)
        try:
            return self.query_one(f"#{pane_id}", TabPane).query_one(RichLog)
        except Exception:
            return None

    def _log(self, host: str) -> RichLog | None:
        return self._view_log(host)

    # -- live output --------------------------------------------------------------------

    def append(self, action_id: int, host: str, text: str, skipped: int = 0) -> None:
        """Write whole lines as they complete; a partial line waits for its end (or the action's)."""
        if not any(r.id == action_id for r in self.runs) or host not in self._tabs:
            return
        tab = self._tabs[host]
        self._merged_dirty = True
        if skipped:
            self._flush(host, final=True)
            tab.received += skipped
            log = self._view_log(host)
            if log is not None and not self._searching(host) and tab.received > tab.skip_until:
                log.write(Text(f"… {skipped} lines not shown here (all in the output spool)", style="dim italic"))
        tab.partial += text
        self._flush(host, final=False)

    def _flush(self, host: str, final: bool) -> None:
        tab = self._tabs.get(host)
        if tab is None or not tab.partial:
            return
        if final:
            lines, rest = tab.partial.split("\n"), ""
            if lines and lines[-1] == "":
                lines.pop()
        else:
            *lines, rest = tab.partial.split("\n")
        tab.partial = rest
        first = tab.received
        tab.received += len(lines)
        if tab.skip_until > first:  # a redraw from the spool already showed these
            lines = lines[tab.skip_until - first:]
        log = self._view_log(host)
        if lines and log is not None and not self._searching(host):
            # one write per batch: RichLog copies its 5,000 kept lines and scrolls on every write
            log.write(Text("\n".join(lines).replace("\t", "    ")))

    # -- views from the spool -------------------------------------------------------------

    def _redraw_host(self, host: str) -> None:
        """The host's tab again, from its spool (after a wrap toggle or a search)."""
        log = self._view_log(host)
        tab = self._tabs.get(host)
        hr = next((hr for _r, hr in self._hosts() if hr.host == host), None)
        if log is None or tab is None or hr is None:
            return
        log.clear()
        log.auto_scroll = True
        path = output_view.spool_of(hr)
        lines = read_tail(path, SHOWN_LINES, 8 * 1024 * 1024) if path is not None else hr.output.splitlines()
        if path is not None:  # lines handed out but still queued for this pane are in the file already
            tab.skip_until = output_view.count_lines(path)
        if lines:
            log.write(Text("\n".join(lines).replace("\t", "    ")))
        for line in tab.footer:
            log.write(line)  # text-safe: Text from _footer

    def _render_merged(self) -> None:
        log = self._view_log(MERGED)
        if log is None:
            return
        self._merged_dirty = False
        src = output_view.merged_source(self.runs)
        log.clear()
        log.auto_scroll = True
        shown = src.lines[-SHOWN_LINES:]
        if len(src.lines) > len(shown):
            log.write(Text(f"… {len(src.lines) - len(shown)} earlier lines: / searches them, D saves them all",
                           style="dim italic"))
        if shown:
            log.write(Text("\n".join(shown).replace("\t", "    ")))
        if src.note:
            log.write(Text(src.note, style="dim"))  # text-safe: Text

    @on(TabbedContent.TabActivated, "#out-tabs")
    def _tab_activated(self, _event: TabbedContent.TabActivated) -> None:
        if self.current_view == MERGED and self._search is None:
            self._render_merged()
