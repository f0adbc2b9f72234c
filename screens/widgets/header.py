"""One line that answers "is everything fine?": title, phase, counts, data age, mode."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cockpit.conditions import Verdict
from cockpit.model import FleetSnapshot
from screens import render

#: the gate's verdict in the header: a word and a weight, never colour alone
GATE_WORDS = {True: ("gate holds", render.OK), False: ("gate FAILS", render.BAD),
              None: ("gate inconclusive", render.WARN)}


class CockpitHeader(Widget):
    DEFAULT_CSS = """
    CockpitHeader { height: 1; background: $panel; color: $text; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    phase: reactive[str] = reactive("")
    read_only: reactive[bool] = reactive(False)
    observer: reactive[str] = reactive("")
    gate: reactive[Verdict | None] = reactive(None)

    def __init__(self, clock: Callable[[], float], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._clock = clock
        self.snapshot: FleetSnapshot | None = None
        self.last_round: float | None = None
        self._counts: dict[str, int] = {}

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)  # the age ticks; nothing else redraws

    def update_snapshot(self, snap: FleetSnapshot) -> None:
        self.snapshot = snap
        self._counts = snap.counts()  # once per snapshot, not on every tick of the age (500 hosts: ~1 ms)
        ends = [h.round_ended for h in snap.hosts if h.round_ended]
        if ends:
            self.last_round = max(ends)
        self.refresh()

    def render(self) -> Text:
        snap = self.snapshot
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.read_only:
            t.append(" READ-ONLY ", style="bold reverse yellow")
            t.append(" ")
        if self.observer:
            t.append(" OBSERVER ", style="bold reverse cyan")
            t.append(" ")
        if snap is not None:
            c = self._counts
            t.append(f"●{c['up']} ", style="green")
            t.append(f"◐{c['degraded']} ", style="yellow" if c["degraded"] else "dim")
            t.append(f"✖{c['down']} ", style="bold red" if c["down"] else "dim")
            t.append(f"⨯{c['unreachable']}", style="bold red" if c["unreachable"] else "dim")
            t.append("  ")
        since = None if self.last_round is None else self._clock() - self.last_round
        style = "bold red" if since is not None and snap is not None and since > 30 else "dim"
        t.append(f"{render.age(since)} ago  ", style=style)
        if self.phase:
            t.append(render.clean(self.phase), style="bold")
            if self.gate is not None:  # the current phase's gate, at every size (the plan may be a tab away)
                word, style = GATE_WORDS[self.gate.value]
                t.append(" ")
                t.append(word, style=style)
            t.append(" · ")
        t.append(render.clean(snap.title if snap else ""), style="bold")
        return t
