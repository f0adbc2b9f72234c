"""The output pane's keys: ``/`` search with ``n``/``N``, ``W`` wrap, ``D`` save, ``Y`` copy.

A mixin of :class:`screens.widgets.output_pane.OutputPane` (whose ``BINDINGS`` name these actions). Every
one reads the spool files through :mod:`screens.widgets.output_view`, never the log widgets' lines: a
tab keeps 5,000 lines at most, and under a flood the engine hands the pane only the latest of each batch.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Input, RichLog, Static

from screens.widgets import output_view
from screens.widgets.output_view import MERGED, Source

if TYPE_CHECKING:
    from textual.widget import Widget

    from cockpit.engine import ActionRun, HostRun

    _Base = Widget
else:
    _Base = object

WINDOW = 2000  # lines either side of a search match written into the tab
COPY_LIMIT = 1_000_000  # characters a copy takes at most (the end of the output)


@dataclass
class _Search:
    needle: str
    source: Source
    matches: list[int]
    at: int = 0
    view: str = ""  # the tab searched



class OutputKeys(_Base):
    """Search, wrap, save and copy for the output pane."""

    if TYPE_CHECKING:  # defined by OutputPane
        runs: list[ActionRun]
        wrap: bool
        _search: _Search | None
        _tabs: dict[str, object]

        @property
        def current_view(self) -> str | None: ...
        @property
        def group(self) -> int: ...
        def _hosts(self) -> list[tuple[ActionRun, HostRun]]: ...
        def _view_log(self, view: str | None) -> RichLog | None: ...
        def _redraw_host(self, host: str) -> None: ...
        def _render_merged(self) -> None: ...
        def focus_view(self) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_match", "previous_match", "end_search"):
            return self._search is not None or (action == "end_search" and self._find_box.has_class("-active"))
        return True

    @property
    def _find_box(self) -> Input:
        return self.query_one("#out-find", Input)

    def _status(self, text: Text | str) -> None:
        box = self.query_one("#out-status", Static)
        box.update(Text(text) if isinstance(text, str) else text)  # text-safe: Text
        box.set_class(bool(str(text)), "-active")

    def _source(self, view: str) -> Source | None:
        if view == MERGED:
            return output_view.merged_source(self.runs)
        hr = next((hr for _r, hr in self._hosts() if hr.host == view), None)
        return output_view.host_source(hr) if hr is not None else None

    def _searching(self, view: str) -> bool:
        """The tab shows search results: live lines wait in the spool until the search ends."""
        return self._search is not None and self._search.view == view

    def action_search(self) -> None:
        if not self.runs:
            self.notify("no output to search yet", timeout=3)
            return
        box = self._find_box
        box.add_class("-active")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "out-find":
            return
        event.stop()
        needle = event.value.strip()
        self._find_box.remove_class("-active")
        view = self.current_view
        if not needle or view is None:
            self._end_search()
            return
        src = self._source(view)
        if src is None:
            return
        matches = output_view.find(src.lines, needle)
        if self._search is not None:
            self._end_search(redraw=self._search.view != view)
        if not matches:
            where = "the merged output" if view == MERGED else f"{view}'s output"
            self._status(f"/{needle}: no match in {where} ({len(src.lines)} lines)")
            self.focus_view()
            return
        self._search = _Search(needle, src, matches, 0, view)
        self._show_match()
        self.focus_view()

    def _show_match(self) -> None:
        s = self._search
        if s is None:
            return
        log = self._view_log(s.view)
        if log is None:
            return
        i = s.matches[s.at]
        lo, hi = max(0, i - WINDOW), min(len(s.source.lines), i + WINDOW)
        log.auto_scroll = False
        log.clear()
        if lo:
            log.write(Text(f"… {lo} lines above", style="dim italic"))
        if i > lo:
            log.write(self._marked(s.source.lines[lo:i], s.needle, None))  # text-safe: Text
        row = len(log.lines)
        log.write(self._marked(s.source.lines[i:hi], s.needle, 0))  # text-safe: Text
        if hi < len(s.source.lines):
            log.write(Text(f"… {len(s.source.lines) - hi} lines below", style="dim italic"))
        log.scroll_to(y=max(0, row - 2), animate=False)
        host, line = s.source.origins[i]
        where = f"{host} line {line}"
        status = Text(f"/{s.needle}", style="bold")
        status.append(f"  match {s.at + 1} of {len(s.matches)} · {where}  ")
        status.append("n next · N previous · Escape back to the live output", style="dim")
        self._status(status)

    @staticmethod
    def _marked(lines: tuple[str, ...] | list[str], needle: str, current: int | None) -> Text:
        text = Text("\n".join(lines).replace("\t", "    "))
        text.highlight_words([needle], style="black on yellow", case_sensitive=False)
        if current is not None:  # the current match: its whole line stands out
            end = len(lines[current].replace("\t", "    "))
            text.stylize("bold reverse", 0, end)
        return text

    def action_next_match(self) -> None:
        if self._search is not None:
            self._search.at = (self._search.at + 1) % len(self._search.matches)
            self._show_match()

    def action_previous_match(self) -> None:
        if self._search is not None:
            self._search.at = (self._search.at - 1) % len(self._search.matches)
            self._show_match()

    def action_end_search(self) -> None:
        if self._find_box.has_class("-active"):
            self._find_box.remove_class("-active")
            self.focus_view()
            return
        self._end_search()

    def _end_search(self, redraw: bool = True) -> None:
        s, self._search = self._search, None
        self._status("")
        if s is not None and redraw:
            self._redraw(s.view)

    def _redraw(self, view: str) -> None:
        if view == MERGED:
            self._render_merged()
        else:
            self._redraw_host(view)

    def action_toggle_wrap(self) -> None:
        """Long lines wrap (or not) in every tab; each tab is drawn again from its spool at the new width."""
        self.wrap = not self.wrap
        self._end_search(redraw=False)
        for log in self.query(RichLog):
            log.wrap = self.wrap
        for host in self._tabs:
            self._redraw_host(host)
        self._render_merged()
        self._status(f"wrap {'on' if self.wrap else 'off'}: W toggles")

    def action_save(self) -> None:
        """The active tab's whole output to ``<state_dir>/saved/``: a host's file is a copy of its spool."""
        view = self.current_view
        if view is None:
            self.notify("no output to save yet", timeout=3)
            return
        target = output_view.saved_dir(self.runs)
        if target is None:
            self.notify("nothing saved: this cockpit has no state directory for output", severity="error", timeout=6)
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = "merged" if view == MERGED else "".join(c if c.isalnum() or c in "-_." else "_" for c in view)
        dest = target / f"action-{self.group}-{name}-{stamp}.log"
        note = ""
        try:
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
            hr = next((hr for _r, hr in self._hosts() if hr.host == view), None)
            path = output_view.spool_of(hr) if hr is not None else None
            if path is not None:
                shutil.copyfile(path, dest)
                lines = len(output_view.read_lines(path))
            else:
                src = self._source(view)
                body = "\n".join(src.lines) + "\n" if src is not None and src.lines else ""
                dest.write_text(body, encoding="utf-8")
                lines = len(src.lines) if src is not None else 0
                note = src.note if src is not None else ""
        except OSError as exc:
            self.notify(f"could not save to {dest}: {exc.strerror or exc}", severity="error", timeout=8, markup=False)
            return
        running = any(hr.state in ("running", "pending") for _r, hr in self._hosts()
                      if view == MERGED or hr.host == view)
        what = "the merged output" if view == MERGED else f"{view}'s output"
        msg = f"saved {what} ({lines} lines{', so far: still running' if running else ''}) to {dest}"
        if note:
            msg += f" ({note})"
        self._status(msg)
        self.notify(msg, timeout=8, markup=False)

    def action_copy(self) -> None:
        """The selected host's output (from its spool) to the clipboard, if the config allows it (the App decides)."""
        view = self.current_view
        if view is None or view == MERGED:
            self.notify("select a host's tab: Y copies that host's output", timeout=4)
            return
        src = self._source(view)
        if src is None:
            return
        text = "\n".join(src.lines) + ("\n" if src.lines else "")
        cut = len(text) > COPY_LIMIT
        self.post_message(self.CopyRequested(view, text[-COPY_LIMIT:] if cut else text, len(src.lines), cut))
