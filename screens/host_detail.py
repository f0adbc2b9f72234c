"""One host: every service with status, detail, latency and last change; load history; its last actions."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, RichLog, Sparkline, Static

from cockpit.engine import ActionRun, HostRun
from cockpit.model import FleetSnapshot, HostState
from screens import render
from screens.safety import Contained
from screens.widgets.output_pane import run_line


class HostDetailScreen(Contained, Screen[None]):
    CSS_PATH = "host_detail.tcss"

    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("p", "probe", "Probe host")]
    #: classes host_detail.tcss uses to keep all four sparklines and the short columns on an 80×24 screen
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    def __init__(self, host: str, clock: Callable[[], float]) -> None:
        super().__init__()
        self.host = host
        self._clock = clock
        self.state: HostState | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="hd-title")
        with Horizontal(id="hd-top"):
            yield DataTable(id="hd-services", cursor_type="row")
            with Vertical(id="hd-load"):
                for key, label in (("cpu", "CPU %"), ("mem", "Memory %"), ("load1", "Load 1m"), ("disk", "Disk %")):
                    yield Label(Text(label), id=f"hd-label-{key}")
                    yield Sparkline([], id=f"hd-spark-{key}")
        yield Label(Text("Last actions on this host", style="bold"), id="hd-actions-title")
        with Horizontal(id="hd-bottom"):
            yield DataTable(id="hd-actions", cursor_type="row")
            yield RichLog(id="hd-output", markup=False, wrap=False, highlight=False, max_lines=2000)
        yield Footer()

    def on_mount(self) -> None:
        services = self.query_one("#hd-services", DataTable)
        # Detail last: it is the long, free-text column, so on a narrow screen only it is cut
        for key, label in (("status", "Status"), ("service", "Service"), ("latency", "Latency"),
                           ("since", "Since"), ("detail", "Detail")):
            services.add_column(label, key=key)
        actions = self.query_one("#hd-actions", DataTable)
        for key, label in (("at", "Started"), ("title", "Action"), ("result", "Result")):
            actions.add_column(label, key=key)

    def action_probe(self) -> None:
        self.app.action_probe_hosts([self.host])  # type: ignore[attr-defined]

    def apply(self, snap: FleetSnapshot) -> None:
        try:
            h = snap.host(self.host)
        except KeyError:
            return
        self.state = h
        title = Text(render.clean(h.name), style="bold")
        title.append("  ")
        title.append_text(render.reach(h))
        if h.error:
            title.append("  ")
            title.append(render.clean(h.error), style="red")
        if h.tags:
            title.append("  tags: " + render.clean(", ".join(h.tags)), style="dim")
        if h.fingerprint:
            title.append(f"\noffered host key {h.fingerprint}", style="bold red")
        if h.connection:
            title.append("\nconnects as " + render.clean(h.connection), style="dim")
        for note in h.notes:
            title.append("\n⚠ " + render.clean(note), style="yellow")
        self.query_one("#hd-title", Static).update(title)  # text-safe: Text
        table = self.query_one("#hd-services", DataTable)
        table.clear()
        for r in h.results:
            lat = "–" if r.latency is None else f"{r.latency * 1000:.0f} ms"
            since = render.clock_time(r.since) if r.since else "–"
            word = render.status(r.status)
            word.stylize(render.judged_style(r))  # the observation, coloured by its judgment
            detail = r.detail if r.expect == "up" else f"{r.detail} · expected {r.expect}: {r.expect_why}"
            table.add_row(word, render.plain(r.service), Text(lat), Text(since), render.plain(detail),  # text-safe: word is Text
                          key=r.service)
        hist = list(h.history)
        for key in ("cpu", "mem", "load1", "disk"):
            values = [getattr(x, key) for x in hist]
            values = [v for v in values if v is not None]
            self.query_one(f"#hd-spark-{key}", Sparkline).data = values or [0.0]
            last = f"{values[-1]:.1f}" if values else "–"
            label = {"cpu": "CPU %", "mem": "Memory %", "load1": "Load 1m", "disk": "Disk %"}[key]
            self.query_one(f"#hd-label-{key}", Label).update(Text(f"{label}: {last}"))

    def show_actions(self, entries: list[tuple[ActionRun, HostRun]]) -> None:
        self._entries = {str(run.id): (run, hr) for run, hr in entries}
        table = self.query_one("#hd-actions", DataTable)
        table.clear()
        for run, hr in entries:
            table.add_row(Text(render.clock_time(run.started)), render.plain(run.title), run_line(hr),
                          key=f"{run.id}")
        if entries:
            self._show_output(*entries[0])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None  # None: PageDown on an empty table
        if event.data_table.id == "hd-actions" and key in getattr(self, "_entries", {}):
            self._show_output(*self._entries[key])

    def _show_output(self, run: ActionRun, hr: HostRun) -> None:
        log = self.query_one("#hd-output", RichLog)
        log.clear()
        log.write(Text("$ ", style="dim") + render.plain(hr.command))
        for line in hr.output.splitlines()[-500:]:
            log.write(Text(line))
        log.write(Text("── ").append_text(run_line(hr)))
