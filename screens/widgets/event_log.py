"""Status changes as they happen, newest first, bounded; a service that keeps changing is shown as flapping."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from cockpit.model import StatusChange
from screens import render

MAX_ENTRIES = 300
FLAP_WINDOW = 300.0  # seconds
FLAP_CHANGES = 4  # this many changes of one service within the window: flapping


@dataclass
class Entry:
    at: float
    key: tuple[str, str | None]
    text: Text
    flaps: int = 0


def describe(e: StatusChange) -> Text:
    """``12:03:04 csb1 fleet-web up → down: HTTP 502``"""
    t = Text(render.clock_time(e.at) + " ", style="dim")
    t.append(render.clean(e.host), style="bold")
    t.append(" ")
    if e.service:
        t.append(render.plain(e.service))
        t.append(" ")
    t.append(e.old, style=render.STYLE.get(e.old, ""))
    t.append(" → ")
    t.append(e.new, style=render.STYLE.get(e.new, "bold red" if e.service is None and e.new != "ok" else ""))
    if e.detail:
        t.append(": ")
        t.append(render.plain(e.detail))
    return t


class EventLog(Widget):
    """Renders only what fits; history beyond that stays in memory (and in the journal later)."""

    DEFAULT_CSS = """
    EventLog { height: 8; border-top: solid $primary-darken-2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.entries: deque[Entry] = deque(maxlen=MAX_ENTRIES)
        self._changes: dict[tuple[str, str | None], deque[float]] = {}
        self.border_title = "Events"

    def add(self, events: list[StatusChange] | tuple[StatusChange, ...]) -> None:
        if not events:
            return
        for e in events:
            key = (e.host, e.service)
            times = self._changes.setdefault(key, deque(maxlen=FLAP_CHANGES * 4))
            times.append(e.at)
            recent = [t for t in times if e.at - t <= FLAP_WINDOW]
            if len(recent) >= FLAP_CHANGES:
                self._flap(key, e, len(recent))
            else:
                self.entries.appendleft(Entry(e.at, key, describe(e)))
        self.refresh()

    def _flap(self, key: tuple[str, str | None], e: StatusChange, count: int) -> None:
        """Replace the service's lines with one flapping line, moved to the top."""
        for old in [x for x in self.entries if x.key == key]:
            self.entries.remove(old)
        t = Text(render.clock_time(e.at) + " ", style="dim")
        t.append(render.clean(e.host), style="bold")
        t.append(f" {render.plain(e.service or 'host')} ")
        t.append(f"flapping ({count} changes in {int(FLAP_WINDOW // 60)}m)", style="bold yellow")
        t.append(", now ")
        t.append(e.new, style=render.STYLE.get(e.new, ""))
        self.entries.appendleft(Entry(e.at, key, t, flaps=count))

    def render(self) -> Text:
        if not self.entries:
            return Text("no status changes yet", style="dim")
        lines = list(self.entries)[: max(1, self.size.height)]
        out = Text("\n").join(e.text for e in lines)
        out.no_wrap = True
        out.overflow = "ellipsis"
        return out
