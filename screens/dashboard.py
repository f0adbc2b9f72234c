"""The main screen: header, fleet table, services grid, plan, event log and action output.

Three layouts (:mod:`screens.layout`): below 100 columns a compact column set (``w`` shows the
others) with the grid and the plan in their own tabs; from 100 every column, the grid under the
table; from 160 the plan and the events beside the fleet. The header carries the current phase
and its gate's verdict at every size, the footer the rollback key.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Key, Resize
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from cockpit.engine import ActionRun
from cockpit.errors import FilterError
from cockpit.model import FleetSnapshot
from cockpit.runbook import PlanView
from screens import banners, layout, render
from screens.dashboard_keys import FIRING, KeyAvailability
from screens.safety import Contained
from screens.widgets.event_log import EventLog
from screens.widgets.fleet_table import FleetTable
from screens.widgets.header import CockpitHeader
from screens.widgets.key_footer import KeyFooter
from screens.widgets.output_pane import OutputPane
from screens.widgets.phase_panel import PhasePanel
from screens.widgets.plan_detail import PlanDetail
from screens.widgets.services_grid import ServicesGrid

WIDE = layout.WIDE

class DashboardScreen(KeyAvailability, Contained, Screen[None]):
    CSS_PATH = "dashboard.tcss"

    BINDINGS = [
        Binding("q", "app.request_quit", "Quit"),  # first, so the footer never pushes them off at 80 columns
        Binding("question_mark", "app.help", "Keys", key_display="?"),
        Binding("p", "probe", "Probe", tooltip="Probe now: every check on the selected hosts (or all) at once"),
        Binding("exclamation_mark", "adhoc", "Run cmd", key_display="!",
                tooltip="Run a command: an ad-hoc command on hosts you choose (confirmed first)"),
        Binding("space", "toggle_select", "Select", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("m", "other_columns", "More cols",
                tooltip="Below 100 columns: the fleet table's other columns (CPU, Mem <-> Load1, Disk)"),
        Binding("percent_sign", "toggle_usage", "Service CPU/mem", show=False, key_display="%",
                tooltip="Services grid: each service's own CPU and memory <-> its status"),
        Binding("enter", "detail", "Detail", show=False),
        Binding("x", "cancel", "Cancel host"),
        Binding("X", "cancel_all", "Cancel all"),
        Binding("r", "retry", "Retry host", show=False),
        Binding("b", "baseline", "Baseline", show=False),
        Binding("R", "quick_rollback", "Rollback"),
        Binding("S", "skip_step", "Skip step", show=False),
        Binding("O", "override_phase", "Override phase", show=False),
        Binding("K", "tick_step", "Tick manual step done", show=False),
        Binding("F", "fail_step", "Mark manual step failed", show=False),
        Binding("U", "rollback", "Roll back step/phase", show=False),
        Binding("T", "take_over", "Take over stale lease", show=False),
        Binding("C", "continue_step", "Continue rolling step", show=False),
        Binding("A", "accept_plan", "Accept plan change", show=False,
                tooltip="Review the edited config's plan diff and accept it with a reason (journaled)"),
        Binding("L", "load_driver_plan", "Load the driver's plan", show=False,
                tooltip="Observer: load the driver's newer plan (from the journal) in place of this cockpit's"),
        Binding("1", "tab('tab-fleet')", "Fleet", show=False),
        Binding("2", "tab('tab-services')", "Services", show=False),
        Binding("3", "tab('tab-plan')", "Plan", show=False),
        Binding("4", "tab('tab-output')", "Output", show=False),
    ]

    def __init__(self, action_keys: list[tuple[str, str, str]], read_only: bool, clock) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.read_only = read_only
        self._clock = clock
        self.snapshot: FleetSnapshot | None = None
        self._titles: list[str] = []
        self.plan: PlanView | None = None
        self.has_runbook = False
        self._ready = False  # set at the end of on_mount: before that apply() only keeps the snapshot
        self.feed_banner: banners.Banner | None = None  # an observer following the driver: whose view, how old
        self._wanted: list[banners.Banner] = []
        for key, name, title in action_keys:
            # a short footer label leaves room for q and ?; help and the palette show the full title
            short = render.clean(title if len(title) <= 10 else title[:9] + "…")
            self._bindings.key_to_bindings.setdefault(key, []).append(
                Binding(key, f"run_configured('{name}')", short, tooltip=render.literal(title)))

    def compose(self) -> ComposeResult:
        yield CockpitHeader(self._clock, id="header")
        yield Static(id="banner")
        with TabbedContent(id="tabs", initial="tab-fleet"):
            with TabPane("Fleet", id="tab-fleet"), Horizontal(id="main"):
                with Vertical(id="left"):
                    yield FleetTable(self._clock, id="fleet")
                    yield ServicesGrid(self._clock, id="grid-main")
                with Vertical(id="right"):
                    yield PhasePanel(id="phases-main")
                    yield PlanDetail(id="plan-detail-main", classes="-empty")
                    yield EventLog(id="events")
            with TabPane("Services", id="tab-services"):
                yield ServicesGrid(self._clock, id="grid-tab")
            with TabPane("Plan", id="tab-plan"):
                yield PhasePanel(id="phases-tab")
                yield PlanDetail(id="plan-detail-tab", classes="-empty")
            with TabPane("Output", id="tab-output"):
                yield OutputPane(id="output")
        yield Input(placeholder="filter: status:down tag:eu svc:redis, a regex, ! inverts (Enter keeps, Escape clears)",
                    id="filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#header", CockpitHeader).read_only = self.read_only
        self._layout(self.size.width)
        self.query_one("#fleet", FleetTable).focus()
        self._ready = True
        if self.plan is not None:
            self.apply_plan(self.plan)
        elif self._titles:
            self.set_phases(self._titles)
        if self.snapshot is not None:
            self.apply(self.snapshot)  # a snapshot that arrived before the widgets existed
        if self.feed_banner is not None and self.plan is None:
            self.show_banners(self._wanted)

    def on_resize(self, event: Resize) -> None:
        if self._ready:  # before on_mount the widgets may not exist; on_mount lays them out
            self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        mode = layout.mode(width)
        if self.has_class(mode):
            return
        for m in ("-compact", "-full", "-wide"):
            self.set_class(m == mode, m)
        tabs = self.query_one("#tabs", TabbedContent)
        (tabs.show_tab if mode == "-compact" else tabs.hide_tab)("tab-services")
        (tabs.hide_tab if mode == "-wide" else tabs.show_tab)("tab-plan")
        if (tabs.active == "tab-services" and mode != "-compact") or (tabs.active == "tab-plan" and mode == "-wide"):
            tabs.active = "tab-fleet"
        table = self.query_one("#fleet", FleetTable)
        table.lay_out(table.width_for, mode == "-compact")
        if self.snapshot is not None and self._ready:  # the grid now shown may have missed updates
            self.query_one(self._grid_id, ServicesGrid).apply(self.snapshot, force=True)
        self.refresh_bindings()  # `w` exists only with the compact columns

    @property
    def _grid_id(self) -> str:
        return "#grid-tab" if self.has_class("-compact") else "#grid-main"

    @property
    def _plan_id(self) -> str:
        return "#phases-main" if self.has_class("-wide") else "#phases-tab"

    def action_other_columns(self) -> None:
        """Compact layout (`m`): swap to the other column set (Host, Reach and Services stay)."""
        table = self.query_one("#fleet", FleetTable)
        table.lay_out(table.width_for, True, table.compact_set + 1)

    def action_toggle_usage(self) -> None:
        """`%`: the services grid shows each service's own CPU and memory, or (again) its status."""
        grids = list(self.query(ServicesGrid))
        on = not (grids and grids[0].usage)
        for grid in grids:
            grid.set_usage(on)
        self.notify("services grid: CPU (% of one core) and memory" if on else "services grid: status",
                    markup=False, timeout=3)

    # -- data down ----------------------------------------------------------------------

    def apply(self, snap: FleetSnapshot) -> None:
        """One batched update for a whole snapshot."""
        self.snapshot = snap
        if not self._ready:
            return  # the first snapshot can beat compose; on_mount applies it
        with self.app.batch_update():
            self.query_one("#header", CockpitHeader).update_snapshot(snap)
            self.query_one("#fleet", FleetTable).apply(snap, snap.changed or None)
            self.query_one(self._grid_id, ServicesGrid).apply(snap)
            self.query_one("#events", EventLog).add(snap.events)

    def set_phases(self, titles: list[str]) -> None:
        """No runbook: the phase titles of ``[cockpit] phases``."""
        self._titles = titles
        if not self._ready:
            return  # on_mount shows them
        self.query_one("#header", CockpitHeader).phase = titles[0] if titles else ""
        for pid in ("#phases-main", "#phases-tab"):
            self.query_one(pid, PhasePanel).set_titles(titles)

    def apply_plan(self, view: PlanView) -> None:
        self.plan = view
        if not self._ready:
            return  # on_mount applies it
        current = next((p for p in view.phases if p.id == view.current), None)
        header = self.query_one("#header", CockpitHeader)
        header.phase = current.title if current else ("plan complete" if view.phases else "")
        if view.rollback is not None:  # never "plan complete" after a rollback
            header.phase = f"{view.rollback.word} · {header.phase}"
        header.gate = current.gate if current is not None else None
        header.observer = view.driver if view.observer else ""
        for pid in ("#phases-main", "#phases-tab"):
            self.query_one(pid, PhasePanel).apply(view)
        self._show_detail()
        self.show_banners(banners.plan_banners(view, self.read_only))
        self.refresh_bindings()  # observer or driver: the firing keys grey out or come back

    def set_feed_banner(self, banner: banners.Banner | None) -> None:
        """Whose view this is and how old (an observer following the driver), beside the plan's banners."""
        if banner != self.feed_banner:
            self.feed_banner = banner
            if self._ready:
                self.show_banners(self._wanted)

    def show_banners(self, wanted: list[banners.Banner]) -> None:
        """At most two rows (:func:`screens.banners.rank_banners`); each row cut at the screen's edge."""
        self._wanted = list(wanted)
        ranked = banners.rank_banners(banners.with_feed(self._wanted, self.feed_banner))
        banner = self.query_one("#banner", Static)
        banner.update(Text("\n".join(ranked.rows), no_wrap=True, overflow="ellipsis"))
        banner.set_class(bool(ranked.rows), "-active")
        banner.set_class(ranked.top is not None and ranked.top > banners.Rank.REGRESSION, "-notice")

    def plan_selection(self) -> str | None:
        return self.query_one(self._plan_id, PhasePanel).selected

    async def show_action(self, run: ActionRun) -> None:
        pane = self.query_one("#output", OutputPane)
        await pane.show(run)
        self.query_one("#tabs", TabbedContent).active = "tab-output"
        pane.focus_view()  # see action_tab: focus left in the hidden fleet tab would switch back to it

    # -- keys ---------------------------------------------------------------------------

    def on_key(self, event: Key) -> None:
        if not self.read_only:
            return
        firing_keys = {b.key for b, in ((b,) for bs in self._bindings.key_to_bindings.values() for b in bs)
                       if b.action.split("(")[0] in FIRING}
        if event.key in firing_keys:
            event.stop()
            self.notify("READ-ONLY: this cockpit fires nothing (started with --read-only)", severity="warning")

    def _targets(self) -> list[str]:
        table = self.query_one("#fleet", FleetTable)
        if table.selected:
            return [h for h in table.visible_hosts() if h in table.selected] or sorted(table.selected)
        return []

    def action_probe(self) -> None:
        self.app.action_probe_hosts(self._targets() or None)  # type: ignore[attr-defined]

    def action_adhoc(self) -> None:
        table = self.query_one("#fleet", FleetTable)
        default = ",".join(self._targets()) or (table.current_host or "")
        self.app.action_adhoc_prompt(default)  # type: ignore[attr-defined]

    def action_run_configured(self, name: str) -> None:
        self.app.action_run_configured(name, self._targets())  # type: ignore[attr-defined]

    def action_toggle_select(self) -> None:
        table = self.query_one("#fleet", FleetTable)
        host = table.current_host
        if host is not None:
            table.toggle_selected(host)
            n = len(table.selected)
            self.notify(f"{n} host{'s' if n != 1 else ''} selected" if n else "selection cleared", timeout=2, markup=False)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-active")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        box = self.query_one("#filter", Input)
        try:
            self.query_one("#fleet", FleetTable).refilter(event.value.strip(), self.snapshot)
        except FilterError as exc:  # the rows keep the last filter that parsed; the box says why
            box.border_subtitle = render.literal(f"{exc.message}: {exc.hint}")
            box.add_class("-invalid")
            return
        box.border_subtitle = ""
        box.remove_class("-invalid")

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not event.value.strip():
            box.remove_class("-active")
        self.query_one("#fleet", FleetTable).focus()

    def key_escape(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-active"):
            box.value = ""
            box.remove_class("-active")
            self.query_one("#fleet", FleetTable).focus()

    def action_detail(self) -> None:
        host = self.query_one("#fleet", FleetTable).current_host
        if host is not None:
            self.app.action_host_detail(host)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected, "#fleet")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_detail()

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#tabs", TabbedContent)
        focus_plan = tab == "tab-plan"
        if (tab == "tab-services" and not self.has_class("-compact")) or (tab == "tab-plan" and self.has_class("-wide")):
            tab = "tab-fleet"  # the grid (from 100 columns) and the plan (from 160) are beside the table
        tabs.active = tab
        if focus_plan:
            self.query_one(self._plan_id, PhasePanel).focus()
        elif tab == "tab-fleet":
            self.query_one("#fleet", FleetTable).focus()
        elif tab == "tab-output":
            # Focus must move into the pane: hiding the focused fleet table hands focus to its nearest
            # focusable neighbour, the services grid (shown from 100 columns), in the hidden Fleet tab, and
            # TabbedContent answers a focused descendant by activating its tab: Output flipped back to Fleet.
            self.query_one("#output", OutputPane).focus_view()

    def action_cancel(self) -> None:
        pane = self.query_one("#output", OutputPane)
        if pane.run is None or pane.run.done:
            self.notify("no running action to cancel", timeout=2)
            return
        host = pane.current_host
        self.app.action_cancel_action(pane.run.id, host)  # type: ignore[attr-defined]

    def action_cancel_all(self) -> None:
        pane = self.query_one("#output", OutputPane)
        if pane.run is not None and not pane.run.done:
            self.app.action_cancel_action(pane.run.id, None)  # type: ignore[attr-defined]

    # runbook keys: the app does the work; the screen says what is selected

    def action_baseline(self) -> None:
        self.app.action_baseline()  # type: ignore[attr-defined]

    def action_quick_rollback(self) -> None:
        self.app.action_quick_rollback()  # type: ignore[attr-defined]

    def action_take_over(self) -> None:
        self.app.action_take_over()  # type: ignore[attr-defined]

    def action_accept_plan(self) -> None:
        self.app.action_accept_plan()  # type: ignore[attr-defined]

    def action_load_driver_plan(self) -> None:
        self.app.action_load_driver_plan()  # type: ignore[attr-defined]

    def _plan_target(self, want: str) -> str | None:
        sel = self.plan_selection()
        if sel is None or not sel.startswith(want + ":"):
            self.notify(f"select a {want} in the plan first (3, or the plan beside the table)", severity="warning", markup=False)
            return None
        return sel.split(":", 1)[1]

    def action_run_step(self) -> None:
        if (ref := self._plan_target("step")) is not None:
            self.app.action_run_step(ref)  # type: ignore[attr-defined]

    def action_continue_step(self) -> None:
        waiting = [s.ref for p in (self.plan.phases if self.plan else ()) for s in p.steps if s.waiting.startswith("paused")]
        if not waiting:
            self.notify("no rolling step is waiting for you", timeout=3)
            return
        self.app.action_continue_step(waiting[0])  # type: ignore[attr-defined]

    def action_skip_step(self) -> None:
        if (ref := self._plan_target("step")) is not None:
            self.app.action_skip_step(ref)  # type: ignore[attr-defined]

    def action_tick_step(self) -> None:
        if (ref := self._plan_target("step")) is not None:
            self.app.action_tick_step(ref, True, self._targets())  # type: ignore[attr-defined]

    def action_fail_step(self) -> None:
        if (ref := self._plan_target("step")) is not None:
            self.app.action_tick_step(ref, False, self._targets())  # type: ignore[attr-defined]

    def action_override_phase(self) -> None:
        sel = self.plan_selection() or ""
        phase = sel.split(":", 1)[1].split(".")[0] if sel.startswith(("phase:", "step:")) else None
        if phase is None:
            self.notify("select a phase in the plan first", severity="warning")
            return
        self.app.action_override_phase(phase)  # type: ignore[attr-defined]

    def action_rollback(self) -> None:
        sel = self.plan_selection()
        if sel is None:
            self.notify("select a step or a phase in the plan first", severity="warning")
            return
        self.app.action_rollback(sel)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected, "PhasePanel")
    def _plan_row(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if key.startswith("step:"):
            self.action_run_step()
        elif key.startswith("analysis:"):  # Enter on a finished run that did not pass: the operator retries it
            phase = next((p for p in (self.plan.phases if self.plan else ()) if f"analysis:{p.id}" == key), None)
            if phase is not None and phase.analysis is not None and phase.analysis.state in ("inconclusive", "failed"):
                self.app.action_retry_analysis(phase.id)  # type: ignore[attr-defined]
            self._show_detail()
        elif key.startswith("phase:"):
            phase = next((p for p in (self.plan.phases if self.plan else ()) if f"phase:{p.id}" == key), None)
            if phase is not None and phase.state == "rolled-back":
                self.app.action_retry_phase(phase.id)  # type: ignore[attr-defined]
            self._show_detail()

    @on(DataTable.RowHighlighted, "PhasePanel")
    def _plan_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected row's full verdict under the plan (the short form in the row never hides it)."""
        wide = self.has_class("-wide")
        self.query_one("#plan-detail-main" if wide else "#plan-detail-tab", PlanDetail).show(
            self.plan, self.plan_selection())

    def action_retry(self) -> None:
        host = self.query_one("#fleet", FleetTable).current_host
        if host is not None:
            self.app.action_retry_host(host)  # type: ignore[attr-defined]
