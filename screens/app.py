"""The cockpit App: owns the engine's subscription and the global actions; screens only render.

The engine runs in the App's event loop (everything it does is asynchronous I/O),
publishes immutable snapshots, and the App forwards each one, as a message, to
the screens that show it. Nothing here waits on the network.

The actions screens and the command palette call are mixins, each in its own
module: :mod:`screens.fleet_actions` (commands on hosts) and
:mod:`screens.runbook_actions` (the runbook). The core is here: start-up, the
engine's messages, navigation, and the key list the help screen and docs use.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from cockpit.engine import ActionRun, Engine
from cockpit.model import FleetSnapshot
from cockpit.runbook import Runbook, alarms_between
from cockpit.sanitize import strip_control
from cockpit.session import Session
from screens import render
from screens.confirm import ConfirmScreen
from screens.dashboard import DashboardScreen
from screens.fleet_actions import FleetActions
from screens.follow import OWN_PROBES, follow_driver
from screens.help import HelpScreen
from screens.host_detail import HostDetailScreen
from screens.messages import ActionChanged, OutputPending, PlanChanged, SnapshotReady
from screens.output_inbox import OutputInbox
from screens.palette import KeyCommands, help_rows
from screens.reason import ReasonPrompt
from screens.runbook_actions import RunbookActions
from screens.safety import Contained, Safety
from screens.widgets.output_pane import OutputPane

ALARMING = frozenset({"down", "unreachable", "auth-failed", "host-key-CHANGED", "host-key-unknown"})
#: Textual's palette commands the cockpit replaces: its "Keys" (a panel; ours is the generated help, listed
#: once, with its key), its "Screenshot" (to ~/Downloads, and only "Failed to save screenshot" when that is
#: missing) and its "Quit" (at once: ours is q's, which asks first while actions run)
REPLACED_COMMANDS = frozenset({"Keys", "Screenshot", "Quit"})
#: Python's cyclic GC while the cockpit runs: a young generation of 50,000 objects instead of 700. With
#: the default, a full collection ran every ~7 rounds at 500 hosts and took 150-350 ms (every object
#: of the snapshots is scanned), right in a frame. Snapshots are frozen dataclasses without cycles
#: (reference counting frees them), so the collector has little to find anyway.
GC_THRESHOLD = (50_000, 20, 100)
#: seconds between two snapshots applied to the screens: each host publishes its own snapshot when its
#: round ends, so 50 hosts meant ~100 screen updates a minute; what arrives in between is merged by the
#: engine's subscription (every status change kept, the latest state of each host)
APPLY_EVERY = 1.0
#: lines of each output batch (at most ten a second per action) the screen gets; the rest is in the spool
OUTPUT_TAIL = 200


class CockpitApp(Safety, Contained, RunbookActions, FleetActions, App[int]):
    """``CockpitApp(engine)``; ``live=False`` for tests that feed snapshots themselves."""

    TITLE = "Cutover Cockpit"
    output_tail = OUTPUT_TAIL  # read by the ActionRunner: only the latest lines of each batch
    CSS_PATH = "cockpit.tcss"
    BINDINGS = [
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+q", "request_quit", "Quit", priority=True, show=False),
        Binding("question_mark", "help", "Keys", key_display="?"),
        # ours, so Textual adds no ctrl+p of its own; `:` as k9s users expect (typed text in a box stays text)
        Binding("ctrl+p", "command_palette", "Palette", priority=True, show=False),
        Binding("colon", "command_palette", "Palette", show=False, key_display=":"),
    ]
    COMMANDS = App.COMMANDS | {KeyCommands}

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast is plain text: messages carry titles, host names, reasons and operator names.

        With markup on, ``[link=...]`` in an operator's name crashed an observer (MarkupError) and an OSC
        in an action title retitled the terminal; here ``markup`` is ignored and the text is stripped.
        """
        super().notify(strip_control(message), title=strip_control(title), severity=severity, timeout=timeout,
                       markup=False)

    def __init__(self, engine: Engine, *, read_only: bool = False, quiet: bool = False, live: bool = True,
                 clock: Callable[[], float] = time.time, operator: str = "", session: Session | None = None,
                 ask_sudo: bool = False, apply_every: float = APPLY_EVERY) -> None:
        super().__init__()
        self.engine = engine
        self.session = session
        self.ask_sudo = ask_sudo
        self.runbook = session.runbook if session is not None else Runbook(engine, None, operator)
        self.read_only = read_only
        self.quiet = quiet
        self.live = live
        self.clock = clock
        self.apply_every = apply_every
        self.operator = operator
        self.snapshot: FleetSnapshot | None = None
        self.follower: object | None = None  # an observer following the driver: its ViewFollower (tests read it)
        self._applied = asyncio.Event()
        self._shown_action: int | None = None
        self._output = OutputInbox()
        self._gc_was = gc.get_threshold()
        self._gc_frozen = False
        self._gc_settled = True  # set False by _tune_gc: then once, when every host has answered
        self.dashboard = DashboardScreen(
            [(a.key, a.name, a.title) for a in engine.config.actions], read_only, clock)

    # -- start-up -----------------------------------------------------------------------

    def on_mount(self) -> None:
        self._tune_gc()
        self.push_screen(self.dashboard)
        self.dashboard.has_runbook = bool(self.engine.config.runbook.phases)
        if self.dashboard.has_runbook:
            self.dashboard.apply_plan(self.runbook.view())
        else:
            self.dashboard.set_phases(list(self.engine.config.cockpit.phases))
        self.runbook.listeners.append(lambda view: self.post_message(PlanChanged(view)))
        if self.session is not None:  # a failed webhook, silence or annotation: said here, never fatal
            self.session.outside_warnings.append(
                lambda text: self.call_later(self.notify, text, severity="warning", timeout=8, markup=False))
        if self.ask_sudo:
            self.push_screen(ReasonPrompt("sudo password for this session (kept in memory only, never shown, "
                                          "logged or journaled; Escape: none)", "password", password=True),
                             self._got_sudo_password)
        if self.live:
            self.install_signal_stop()
            self.engine.actions.listeners.append(self)
            self.run_worker(self._consume(), name="engine", group="engine", exclusive=True)

    async def _consume(self) -> None:
        """Forward snapshots as messages; wait until each is applied so a slow UI merges, not queues.

        At most one every ``apply_every`` seconds: a change waits at most that long after the previous
        update, and the subscription merges whatever arrives meanwhile (events are never dropped).
        """
        try:
            sub = self.engine.subscribe()
            if self.session is not None and self.session.follows:
                await self.session.start(poll=False)
                # returns once this cockpit took the lease over, or when the driver publishes no view
                self.dashboard.set_feed_banner(await follow_driver(self, self.session))
                await self.session.start_polling()
            elif self.session is not None:
                await self.session.start()
                if self.session.own_probes:
                    self.dashboard.set_feed_banner(OWN_PROBES)
            else:
                await self.engine.start()
                self.runbook.start()
            while True:
                snap = await sub.next()
                self._applied.clear()
                self.post_message(SnapshotReady(snap))
                await self._applied.wait()
                await asyncio.sleep(self.apply_every)
        except Exception as exc:  # noqa: BLE001 (no monitoring: the cockpit must not go on showing old state)
            self.monitor_died(exc)

    def _tune_gc(self) -> None:
        """Start-up's objects (modules, widgets, config) leave the collector's scans; collections get rarer."""
        self._gc_was = gc.get_threshold()
        self._gc_frozen = gc.get_freeze_count() == 0
        self._gc_settled = False
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLD)

    def _settle_gc(self, snap: FleetSnapshot) -> None:
        """Once every host has ended a round, freeze again: the fleet's connections, kept shells and state made
        since start-up live as long as the cockpit, and a full collection scanned them all (327 ms at 500
        live hosts, in a frame). One collection now, at the end of start-up, instead of one in the middle of
        the cutover; what is frozen is still freed by reference counting when dropped."""
        if self._gc_settled or not snap.hosts or any(h.round_ended <= 0 for h in snap.hosts):
            return
        self._gc_settled = True
        if self._gc_frozen:  # only when we own the freezing (not under a host process that froze its own)
            gc.collect()
            gc.freeze()

    def _restore_gc(self) -> None:
        gc.set_threshold(*self._gc_was)
        if self._gc_frozen:
            gc.unfreeze()  # only what we froze (a host process may freeze its own)

    async def on_unmount(self) -> None:
        self._restore_gc()
        if not self.live:
            return
        if self.session is not None:
            await self.session.close()
        else:
            await self.runbook.stop()
            await self.engine.aclose()
        self.uninstall_signal_stop()

    def _got_sudo_password(self, password: str | None) -> None:
        from cockpit.sudo import SudoPassword

        if password:
            self.engine.actions.set_sudo_password(SudoPassword(password))
            self.notify("sudo password kept in memory for this session", timeout=4)

    # -- engine listener (called in this loop) ---------------------------------------------

    def action_changed(self, run: ActionRun) -> None:
        self._output.barrier()  # output after this change is drawn after it
        self.post_message(ActionChanged(run))

    def action_output(self, action_id: int, host: str, text: str, skipped: int = 0) -> None:
        group = self._output.add(action_id, host, text, skipped)  # joins the pending group, if any
        if group is not None:
            self.post_message(OutputPending(group))

    # -- messages -----------------------------------------------------------------------

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        self.snapshot = snap
        try:
            if not self.is_running:
                return  # shutting down: the screens' widgets are being removed
            self.dashboard.apply(snap)
            self._settle_gc(snap)
            if isinstance(self.screen, HostDetailScreen):
                self.screen.apply(snap)
            if not self.quiet and any(e.new in ALARMING and e.old != e.new for e in snap.events):
                self.bell()  # once per change batch; tmux flags the window
        finally:
            self._applied.set()

    async def on_action_changed(self, message: ActionChanged) -> None:
        run = message.run
        self.dashboard.refresh_bindings()
        # the newest action takes the pane; a change of an older one updates it only where it is shown:
        # switching back and forth rebuilt the pane's tabs on every change (seconds each in a flood)
        if run.kind != "probe" and (self._shown_action is None or run.id > self._shown_action):
            self._shown_action = run.id
            await self.dashboard.show_action(run)
        else:
            self.dashboard.query_one("#output").update_run(run)  # type: ignore[attr-defined]
        if run.done and run.kind != "probe":
            bad = [r.host for r in run.runs if r.state != "ok"]
            self.notify(f"{run.title}: {run.summary()}" + (f" ({', '.join(bad[:5])})" if bad else ""),
                        severity="error" if bad else "information", timeout=6, markup=False)
        if isinstance(self.screen, HostDetailScreen) and self.screen.host in run.hosts:
            self.screen.show_actions(self.engine.actions.for_host(self.screen.host))

    def on_plan_changed(self, message: PlanChanged) -> None:
        if not self.is_running:
            return  # shutting down: the widgets are going away
        old = self.dashboard.plan
        self.dashboard.apply_plan(message.view)
        if not self.quiet and alarms_between(old, message.view):
            self.bell()  # a regression, a failed gate, a failed or over-budget rollback, a lost lease

    def on_output_pane_copy_requested(self, message: OutputPane.CopyRequested) -> None:
        """``Y`` in the output pane: to the clipboard through the terminal (OSC 52), only if the config opts in."""
        if not self.engine.config.cockpit.clipboard:
            self.notify("copy is off: set [cockpit] clipboard = true to let Y send output to the terminal's "
                        "clipboard (OSC 52); D saves it to a file instead", severity="warning", timeout=8)
            return
        self.copy_to_clipboard(message.text)
        cut = f"the last {len(message.text)} characters of " if message.cut else ""
        self.notify(f"sent {cut}{message.host}'s output ({message.lines} lines) to the terminal's clipboard (OSC 52; "
                    "the terminal decides whether to accept it)", timeout=6, markup=False)

    def on_output_pending(self, message: OutputPending) -> None:
        """A group of output in one go (its batches came between the same two state changes)."""
        pane = self.dashboard.query_one("#output")
        for action_id, host, text, skipped in self._output.take(message.group):
            pane.append(action_id, host, text, skipped)  # type: ignore[attr-defined]

    # -- navigation -----------------------------------------------------------------------

    def action_host_detail(self, host: str) -> None:
        screen = HostDetailScreen(host, self.clock)

        async def fill() -> None:
            if self.snapshot is not None:
                screen.apply(self.snapshot)
            screen.show_actions(self.engine.actions.for_host(host))

        self.push_screen(screen, callback=None)
        self.call_after_refresh(lambda: asyncio.ensure_future(fill()))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.binding_rows(), self.read_only))

    def action_request_quit(self) -> None:
        running = self.engine.actions.running()
        if not running:
            self.exit(0)
            return
        hosts = sorted({r.host for run in running for r in run.runs if r.state in ("pending", "running")})

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(ConfirmScreen(f"quit and cancel {len(running)} running action(s)", "(cancel and quit)",
                                       hosts), answered)

    # -- discoverability -------------------------------------------------------------------

    def binding_rows(self) -> list[tuple[str, str, str]]:
        """(key, what it does, where) for every key: the help screen and docs/keybindings.md are built from this,
        the palette from the same list (:func:`screens.palette.key_commands`)."""
        extra = [(":", "Command palette: every action by name or by key (also ctrl+p)", "everywhere"),
                 ("enter", "Host detail (on a host row); Escape goes back", "fleet table (the host under the cursor)")]
        if self.engine.config.runbook.phases:
            extra.append(("enter", "Run the step under the cursor in the plan (confirmed first)", "plan"))
        keys = {(k, w) for k, _, w in extra}
        return [r for r in help_rows(self) if (r[0], r[2]) not in keys] + extra

    # -- screenshots ------------------------------------------------------------------------

    def screenshot_dir(self) -> Path:
        """``[cockpit] screenshot_dir``, else the state directory: never ~/Downloads, which a server lacks."""
        return self.engine.config.cockpit.screenshot_dir or self.state_dir()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """An SVG of the screen; the path it went to, or why it could not be written, is said on screen."""
        directory = Path(path) if path else self.screenshot_dir()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(directory))
        except OSError as exc:
            self.notify(f"screenshot NOT saved: {directory} cannot be written ({exc.strerror or exc}); set "
                        "[cockpit] screenshot_dir to a directory you can write", severity="error", timeout=10,
                        markup=False)
            return
        self.notify(f"screenshot saved: {saved}", timeout=8, markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_COMMANDS:
                yield command
        yield SystemCommand("Screenshot", render.literal("Save an SVG of the screen into [cockpit] screenshot_dir "
                                                         "(default: the state directory); the path is shown"),
                            lambda: self.set_timer(0.1, self.action_screenshot))
        for h in self.engine.config.hosts:
            yield SystemCommand(render.literal(f"Host: {h.name}"), "Open the host's detail", lambda n=h.name: self.action_host_detail(n))  # type: ignore[misc]
