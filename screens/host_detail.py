"""One host: every service with status, its own CPU and memory, detail, latency and last change; load history;
its last actions.

The history charts are drawn on fixed scales (percentages 0-100, load 0 to twice the CPU count) with a
time axis under them: Textual's Sparkline scales each series from its own minimum to its maximum, so
memory at 10.7 % and disk at 22.6 % drew as full bars.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Label, RichLog, Static

from cockpit.engine import ActionRun, HostRun
from cockpit.model import FleetSnapshot, HostState
from screens import render, usage
from screens.safety import Contained
from screens.widgets.key_footer import KeyFooter
from screens.widgets.output_pane import run_line

#: from this many columns a service's CPU and memory have columns (with sparklines) in the services table
USAGE_COLUMNS_FROM = 120
#: the charts: (field, label, unit); load's scale is the host's CPU count
CHARTS = (("cpu", "CPU", "%"), ("mem", "Memory", "%"), ("load1", "Load 1m", ""), ("disk", "Disk", "%"))


class HistoryChart(Widget):
    """One series as bars on a fixed scale, as wide as the widget: the newest samples on the right."""

    DEFAULT_CSS = "HistoryChart { height: 1; }"

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.values: list[float] = []
        self.top = 100.0

    def show(self, values: list[float], top: float) -> None:
        self.values, self.top = values, top
        self.refresh()

    def render(self) -> Text:
        return Text(render.sparkline(self.values, max(1, self.size.width), self.top), no_wrap=True)


def time_axis(times: list[float], width: int, now: float) -> Text:
    """``-2m25s ·········· now``: how far back the charts above reach (the newest ``width`` samples)."""
    shown = times[-width:]
    if not shown:
        return Text("no history yet", style="dim")
    left = f"-{render.age(now - shown[0])}"
    right = "now" if now - shown[-1] < 2 else f"-{render.age(now - shown[-1])}"
    pad = max(1, width - len(shown) + 0)
    line = " " * (pad - 1) if len(shown) < width else ""
    body = max(1, min(width, len(shown)) - len(left) - len(right))
    return Text(line + left + "·" * body + right, style="dim", no_wrap=True)


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
        self._last: FleetSnapshot | None = None
        self._details: dict[str, str] = {}  # service -> its whole detail, shown below the table when highlighted

    def compose(self) -> ComposeResult:
        yield Static(id="hd-title")
        with Horizontal(id="hd-top"):
            with Vertical(id="hd-left"):
                yield DataTable(id="hd-services", cursor_type="row")
                yield Static(id="hd-service-detail")  # the highlighted service's whole detail, wrapped
            with Vertical(id="hd-load"):
                for key, label, _unit in CHARTS:
                    yield Label(Text(label), id=f"hd-label-{key}")
                    yield HistoryChart(id=f"hd-spark-{key}")
                yield Static(id="hd-axis")
        yield Label(Text("Last actions on this host", style="bold"), id="hd-actions-title")
        with Horizontal(id="hd-bottom"):
            yield DataTable(id="hd-actions", cursor_type="row")
            yield RichLog(id="hd-output", markup=False, wrap=False, highlight=False, max_lines=2000)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._service_columns(self.app.size.width >= USAGE_COLUMNS_FROM)
        actions = self.query_one("#hd-actions", DataTable)
        for key, label in (("at", "Started"), ("title", "Action"), ("result", "Result")):
            actions.add_column(label, key=key)

    def _service_columns(self, with_usage: bool) -> None:
        """Detail last: it is the long, free-text column, so on a narrow screen only it is cut. Below
        ``USAGE_COLUMNS_FROM`` columns a service's CPU and memory go after its detail instead of in columns."""
        self._with_usage = with_usage
        services = self.query_one("#hd-services", DataTable)
        services.clear(columns=True)
        usage_cols = (("cpu", "CPU/core"), ("mem", "Mem")) if with_usage else ()
        for key, label in (("status", "Status"), ("service", "Service"), *usage_cols, ("latency", "Latency"),
                           ("since", "Since"), ("detail", "Detail")):
            services.add_column(label, key=key)

    def on_resize(self) -> None:
        wide = self.app.size.width >= USAGE_COLUMNS_FROM
        if wide != getattr(self, "_with_usage", wide):
            self._service_columns(wide)
            if self._last is not None:
                self.apply(self._last)

    def action_probe(self) -> None:
        self.app.action_probe_hosts([self.host])  # type: ignore[attr-defined]

    def apply(self, snap: FleetSnapshot) -> None:
        try:
            h = snap.host(self.host)
        except KeyError:
            return
        self.state = h
        self._last = snap
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
        now = self._clock()
        self._details = {}
        for r in h.results:
            lat = "–" if r.latency is None else f"{r.latency * 1000:.0f} ms"
            since = render.clock_time(r.since) if r.since else "–"
            word = render.status(r.status)
            word.stylize(render.judged_style(r))  # the observation, coloured by its judgment
            detail = r.detail if r.expect == "up" else f"{r.detail} · expected {r.expect}: {r.expect_why}"
            stale = usage.stale_age(h, r, now)
            if r.usage is not None and not self._with_usage and usage.has_figures(r):
                detail += " · " + usage.inline(r.usage, stale)
            if r.usage is not None and (r.usage.note or r.usage.via):  # how the figures were read, or why not
                detail += f" · {r.usage.note or 'via ' + r.usage.via}"
            cells = [word, render.plain(r.service)]
            if self._with_usage:
                cells += [usage.cpu_gauge(r, 5, stale) if usage.has_figures(r) else Text("–", style="dim"),
                          usage.mem_gauge(r, h, 5, stale) if usage.has_figures(r) else Text("–", style="dim")]
            table.add_row(*cells, Text(lat), Text(since), render.plain(detail), key=r.service)  # text-safe: all Text
            self._details[r.service] = detail
        self._show_service_detail()
        hist = list(h.history)
        ncpu = h.load.ncpu if h.load is not None and h.load.ncpu else None
        stale = None if h.reach in ("ok", "connecting") or not hist else self._clock() - hist[-1].at
        for key, label, unit in CHARTS:
            values = [v for v in (getattr(x, key) for x in hist) if v is not None]
            top = 2.0 * ncpu if key == "load1" and ncpu else max([1.0, *values]) if key == "load1" else 100.0
            self.query_one(f"#hd-spark-{key}", HistoryChart).show(values, top)
            scale = (f"0-{top:g} (2x {ncpu} CPUs)" if ncpu else "own max, CPUs unknown") if key == "load1" else "0-100"
            text = Text(f"{label}: ")
            text.append(f"{values[-1]:.1f}{unit}" if values else "–", style="dim" if stale is not None else "bold")
            text.append(f"  {scale}", style="dim")
            self.query_one(f"#hd-label-{key}", Label).update(text)  # text-safe: Text
        axis = self.query_one("#hd-axis", Static)
        width = self.query_one("#hd-spark-cpu", HistoryChart).size.width or 30
        line = time_axis([x.at for x in hist], width, self._clock())
        if stale is not None:
            line.append(f"\nfigures {render.age(stale)} old: the host does not answer", style="dim italic")
        axis.update(line)  # text-safe: Text

    def show_actions(self, entries: list[tuple[ActionRun, HostRun]]) -> None:
        self._entries = {str(run.id): (run, hr) for run, hr in entries}
        table = self.query_one("#hd-actions", DataTable)
        table.clear()
        for run, hr in entries:
            table.add_row(Text(render.clock_time(run.started)), render.plain(run.title), run_line(hr),
                          key=f"{run.id}")
        if entries:
            self._show_output(*entries[0])

    def _show_service_detail(self) -> None:
        """The Detail column is the one a narrow screen cuts: the highlighted service's detail in full below."""
        table = self.query_one("#hd-services", DataTable)
        line = self.query_one("#hd-service-detail", Static)
        details = self._details
        if not details or not table.row_count:
            line.update("")
            return
        row = min(max(table.cursor_row, 0), table.row_count - 1)
        service = str(table.coordinate_to_cell_key((row, 0)).row_key.value)
        text = Text(render.clean(service) + ": ", style="bold")
        text.append(render.clean(details.get(service, "")))
        line.update(text)  # text-safe: Text

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None  # None: PageDown on an empty table
        if event.data_table.id == "hd-services":
            self._show_service_detail()
            return
        if event.data_table.id == "hd-actions" and key in getattr(self, "_entries", {}):
            self._show_output(*self._entries[key])

    def _show_output(self, run: ActionRun, hr: HostRun) -> None:
        log = self.query_one("#hd-output", RichLog)
        log.clear()
        log.write(Text("$ ", style="dim") + render.plain(hr.command))
        for line in hr.output.splitlines()[-500:]:
            log.write(Text(line))
        log.write(Text("── ").append_text(run_line(hr)))
