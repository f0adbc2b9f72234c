"""The cockpit App: owns the engine's subscription and the global actions; screens only render.

The engine runs in the App's event loop (everything it does is asynchronous I/O),
publishes immutable snapshots, and the App forwards each one, as a message, to
the screens that show it. Nothing here waits on the network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from cockpit.actions import ActionRun
from cockpit.inventory import select
from cockpit.model import FleetSnapshot
from cockpit.errors import CockpitError
from cockpit.runbook import Runbook, RunbookError
from cockpit.scheduler import Engine
from cockpit.session import Session
from screens.confirm import ConfirmScreen
from screens.dashboard import DashboardScreen
from screens.help import HelpScreen
from screens.host_detail import HostDetailScreen
from screens.messages import ActionChanged, ActionOutput, PlanChanged, SnapshotReady
from screens.reason import ReasonPrompt
from screens.prompt import AdHoc, CommandPrompt

ALARMING = frozenset({"down", "unreachable", "auth-failed", "host-key-CHANGED", "host-key-unknown"})
#: Textual's own bindings that mean nothing to an operator (the palette gets its own row)
UNLISTED_ACTIONS = frozenset({"app.focus_next", "app.focus_previous", "screen.copy_text", "command_palette"})


class CockpitApp(App[int]):
    """``CockpitApp(engine)``; ``live=False`` for tests that feed snapshots themselves."""

    TITLE = "Cutover Cockpit"
    CSS_PATH = "cockpit.tcss"
    BINDINGS = [
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+q", "request_quit", "Quit", priority=True, show=False),
        Binding("question_mark", "help", "Keys", key_display="?"),
    ]

    def __init__(self, engine: Engine, *, read_only: bool = False, quiet: bool = False, live: bool = True,
                 clock: Callable[[], float] = time.time, operator: str = "", session: Session | None = None,
                 ask_sudo: bool = False) -> None:
        super().__init__()
        self.engine = engine
        self.session = session
        self.ask_sudo = ask_sudo
        self.runbook = session.runbook if session is not None else Runbook(engine, None, operator)
        self.read_only = read_only
        self.quiet = quiet
        self.live = live
        self.clock = clock
        self.operator = operator
        self.snapshot: FleetSnapshot | None = None
        self._applied = asyncio.Event()
        self._shown_action: int | None = None
        self.dashboard = DashboardScreen(
            [(a.key, a.name, a.title) for a in engine.config.actions], read_only, clock)

    # -- start-up -----------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)
        self.dashboard.has_runbook = bool(self.engine.config.runbook.phases)
        if self.dashboard.has_runbook:
            self.dashboard.apply_plan(self.runbook.view())
        else:
            self.dashboard.set_phases(list(self.engine.config.cockpit.phases))
        self.runbook.listeners.append(lambda view: self.post_message(PlanChanged(view)))
        if self.ask_sudo:
            self.push_screen(ReasonPrompt("sudo password for this session (kept in memory only, never shown, "
                                          "logged or journaled; Escape: none)", "password", password=True),
                             self._got_sudo_password)
        if self.live:
            self.engine.actions.listeners.append(self)
            self.run_worker(self._consume(), name="engine", group="engine", exclusive=True)

    async def _consume(self) -> None:
        """Forward snapshots as messages; wait until each is applied so a slow UI merges, not queues."""
        sub = self.engine.subscribe()
        if self.session is not None:
            await self.session.start()
        else:
            await self.engine.start()
            self.runbook.start()
        while True:
            snap = await sub.next()
            self._applied.clear()
            self.post_message(SnapshotReady(snap))
            await self._applied.wait()

    async def on_unmount(self) -> None:
        if not self.live:
            return
        if self.session is not None:
            await self.session.close()
        else:
            await self.runbook.stop()
            await self.engine.aclose()

    def _got_sudo_password(self, password: str | None) -> None:
        from cockpit.sudo import SudoPassword

        if password:
            self.engine.actions.set_sudo_password(SudoPassword(password))
            self.notify("sudo password kept in memory for this session", timeout=4)

    # -- engine listener (called in this loop) ---------------------------------------------

    def action_changed(self, run: ActionRun) -> None:
        self.post_message(ActionChanged(run))

    def action_output(self, action_id: int, host: str, text: str) -> None:
        self.post_message(ActionOutput(action_id, host, text))

    # -- messages -----------------------------------------------------------------------

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = message.snapshot
        self.snapshot = snap
        try:
            if not self.is_running:
                return  # shutting down: the screens' widgets are being removed
            self.dashboard.apply(snap)
            if isinstance(self.screen, HostDetailScreen):
                self.screen.apply(snap)
            if not self.quiet and any(e.new in ALARMING and e.old != e.new for e in snap.events):
                self.bell()  # once per change batch; tmux flags the window
        finally:
            self._applied.set()

    async def on_action_changed(self, message: ActionChanged) -> None:
        run = message.run
        self.dashboard.refresh_bindings()
        if run.id != self._shown_action and run.kind != "probe":
            self._shown_action = run.id
            await self.dashboard.show_action(run)
        else:
            self.dashboard.query_one("#output").update_run(run)  # type: ignore[attr-defined]
        if run.done and run.kind != "probe":
            bad = [r.host for r in run.runs if r.state != "ok"]
            self.notify(f"{run.title}: {run.summary()}" + (f" ({', '.join(bad[:5])})" if bad else ""),
                        severity="error" if bad else "information", timeout=6)
        if isinstance(self.screen, HostDetailScreen) and self.screen.host in run.hosts:
            self.screen.show_actions(self.engine.actions.for_host(self.screen.host))

    def on_plan_changed(self, message: PlanChanged) -> None:
        old = self.dashboard.plan
        self.dashboard.apply_plan(message.view)
        if not self.quiet and old is not None and set(message.view.regressions) - set(old.regressions):
            self.bell()

    def on_action_output(self, message: ActionOutput) -> None:
        self.dashboard.query_one("#output").append(message.action_id, message.host, message.text)  # type: ignore[attr-defined]

    # -- actions (called by screens and the command palette) ------------------------------

    def _refuse_read_only(self) -> bool:
        if self.read_only:
            self.notify("READ-ONLY: this cockpit fires nothing (started with --read-only)", severity="warning")
        return self.read_only

    def action_probe_hosts(self, hosts: list[str] | None = None) -> None:
        if self._refuse_read_only():
            return
        names = hosts or [h.name for h in self.engine.config.hosts]
        self.engine.probe_now(names)
        self.notify(f"probing {len(names)} host{'s' if len(names) != 1 else ''}", timeout=2)

    def action_adhoc_prompt(self, default: str = "") -> None:
        if self._refuse_read_only():
            return

        def got(answer: AdHoc | None) -> None:
            if answer is None:
                return
            hosts = self._resolve(answer.selectors)
            if hosts:
                self._confirm_and_fire("Ad-hoc command", answer.command, hosts, "adhoc", timeout=None)

        self.push_screen(CommandPrompt(default), got)

    def _resolve(self, selectors: Iterable[str]) -> list[str]:
        hosts = list(self.engine.config.hosts)
        out: list[str] = []
        for sel in selectors:
            matched = select(hosts, sel)
            if not matched:
                self.notify(f"{sel!r} matches no host", severity="error")
                return []
            out += [h.name for h in matched if h.name not in out]
        return out

    def action_run_configured(self, name: str, selected: list[str] | None = None) -> None:
        if self._refuse_read_only():
            return
        spec = next((a for a in self.engine.config.actions if a.name == name), None)
        if spec is None:
            return
        hosts = self._resolve(spec.on)
        if selected:
            chosen = [h for h in hosts if h in selected]
            if not chosen:
                self.notify(f"{spec.title} runs on {', '.join(hosts)}: none of them is selected", severity="warning")
                return
            hosts = chosen
        if spec.confirm:
            self._confirm_and_fire(spec.title, spec.run, hosts, "action", spec.timeout)
        else:
            self._fire(spec.title, spec.run, hosts, "action", spec.timeout)

    def _confirm_and_fire(self, title: str, template: str, hosts: list[str], kind: str, timeout: float | None) -> None:
        from cockpit.actions import render_command

        red = self.engine.redactor.redact
        first = render_command(template, self.engine.config.host(hosts[0]))
        note = "" if first == template else f"placeholders are filled per host; on {hosts[0]}: {red(first)}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._fire(title, template, hosts, kind, timeout)
            else:
                self.notify("cancelled: nothing was run", timeout=3)

        self.push_screen(ConfirmScreen(title, red(template), hosts, note), answered)

    def _fire(self, title: str, template: str, hosts: list[str], kind: str, timeout: float | None) -> None:
        try:
            self.engine.actions.start(title, template, hosts, timeout=timeout, operator=self.operator, kind=kind)
        except CockpitError as exc:  # the journal refused the intent: nothing was fired
            self.notify(f"refused: {exc.message}", severity="error", timeout=8)

    # -- runbook ------------------------------------------------------------------------

    def _runbook_task(self, coro, done: Callable[[object], str] | None = None) -> None:  # type: ignore[no-untyped-def]
        """Run a runbook operation in the background; its errors become notices, never tracebacks."""

        async def wrapper() -> None:
            try:
                result = await coro
            except RunbookError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            if done is not None:
                self.notify(done(result), timeout=6)

        self.run_worker(wrapper(), group="runbook")

    def _sync(self, fn: Callable[[], object], ok: str) -> None:
        try:
            fn()
        except RunbookError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.notify(ok, timeout=4)

    def action_run_step(self, ref: str) -> None:
        """Confirm (hosts, command, verify, rollback readiness), typed words where the step needs them, run."""
        if self._refuse_read_only():
            return
        _phase, step = self.engine.config.runbook.step(ref)
        if step.run is None:
            self.notify(f"{ref} is manual: K ticks it done, F marks it failed", timeout=5)
            return
        hosts = self.runbook.step_hosts(step)

        async def flow() -> None:
            ready = await self.runbook.rollback_readiness(ref)
            notes = []
            if step.verify:
                notes.append(f"verify: {'; '.join(step.verify)}")
            if self.runbook.rollback_conditions(ref):
                notes.append(("rollback READY: " if ready.value is True else "rollback NOT READY: ") + ready.detail)
            if step.batch is not None:
                notes.append(f"rolling: batch {step.batch}, order {', '.join(step.order) or 'as listed'}, "
                             f"max_failures {step.max_failures}, pause {step.pause}")
            if step.irreversible:
                notes.append("IRREVERSIBLE: a point of no return")
            yes = await self.push_screen_wait(ConfirmScreen(f"step {ref}: {step.title}",
                                                            self.engine.redactor.redact(step.run or ""), hosts,
                                                            "\n".join(notes)))
            if not yes:
                self.notify("cancelled: nothing was run", timeout=3)
                return
            if ready.value is not True:
                typed = await self.push_screen_wait(ReasonPrompt(
                    f"The rollback of {ref} is NOT READY ({ready.detail}). Type NOT READY to run it anyway:",
                    "NOT READY", must_equal="NOT READY"))
                if typed is None:
                    return
            typed_id = None
            if step.irreversible:
                typed_id = await self.push_screen_wait(ReasonPrompt(
                    f"{ref} cannot be undone. Type its id ({ref}) to run it:", ref, must_equal=ref))
                if typed_id is None:
                    return
            try:
                view = await self.runbook.run_step(ref, typed_id=typed_id, accept_not_ready=True)
            except RunbookError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
            self.notify(f"{ref}: {view.state}" + (f" ({view.detail})" if view.detail else ""), timeout=6)

        self.run_worker(flow(), group="runbook")

    def action_continue_step(self, ref: str) -> None:
        if self._refuse_read_only():
            return
        self._sync(lambda: self.runbook.continue_step(ref), f"{ref}: next batch")

    def action_skip_step(self, ref: str) -> None:
        if self._refuse_read_only():
            return
        self.push_screen(ReasonPrompt(f"Skip {ref}: why? (journaled)", "reason"),
                         lambda reason: reason and self._sync(lambda: self.runbook.skip_step(ref, reason),
                                                              f"{ref} skipped"))

    def action_tick_step(self, ref: str, ok: bool, selected: list[str]) -> None:
        if self._refuse_read_only():
            return
        _phase, step = self.engine.config.runbook.step(ref)
        hosts = [h for h in self.runbook.step_hosts(step) if h in selected] or [None]  # type: ignore[list-item]

        async def tick_all(note: str) -> object:
            view = None
            for h in hosts:
                view = await self.runbook.tick_step(ref, h, ok, note)
            return view

        def answered(note: str | None) -> None:
            if note:
                self._runbook_task(tick_all(note), lambda v: f"{ref}: {v.state}")  # type: ignore[attr-defined]

        what = "done" if ok else "failed"
        self.push_screen(ReasonPrompt(f"Mark {ref} {what}{' on ' + ', '.join(h for h in hosts if h) if hosts != [None] else ''}:"
                                      " a note for the journal", "what was checked"), answered)

    def action_override_phase(self, phase: str) -> None:
        if self._refuse_read_only():
            return
        self.push_screen(ReasonPrompt(f"Override phase {phase} (count it done without its gate): why?", "reason"),
                         lambda reason: reason and self._sync(lambda: self.runbook.override_phase(phase, reason),
                                                              f"phase {phase} overridden"))

    def action_rollback(self, selection: str) -> None:
        if self._refuse_read_only():
            return
        kind, _, target = selection.partition(":")
        if kind == "step":
            _phase, step = self.engine.config.runbook.step(target)
            if step.rollback is None:
                self.notify(f"{target} has no rollback", severity="warning")
                return
            coro_factory = lambda: self.runbook.rollback_step(target)  # noqa: E731
            title, command, hosts = f"roll back {target}", step.rollback, self.runbook.step_hosts(step)
        elif kind == "phase":
            phase = self.engine.config.runbook.phase(target)
            cmds = [s.rollback for s in reversed(phase.steps) if s.rollback]
            coro_factory = lambda: self.runbook.rollback_phase(target)  # noqa: E731
            title, command = f"roll back phase {target} (done steps, in reverse)", " ; ".join(cmds)  # type: ignore[arg-type]
            hosts = sorted({h for s in phase.steps for h in self.runbook.step_hosts(s)})
        else:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._runbook_task(coro_factory(), lambda ok: f"{title}: {'ok' if ok else 'FAILED'}")

        self.push_screen(ConfirmScreen(title, self.engine.redactor.redact(command), hosts or ["(none)"],
                                       self._no_return_note()), answered)

    def action_quick_rollback(self) -> None:
        if self._refuse_read_only():
            return
        rb = self.engine.config.runbook.rollback
        if rb is None:
            self.notify("no [rollback] in the config", severity="warning")
            return
        hosts = self._resolve(rb.on)
        budget = self.engine.config.runbook.rollback_budget

        def report(rec: object) -> str:
            d = rec.duration or 0.0  # type: ignore[attr-defined]
            verdict = "within" if d <= budget else "OVER"
            return f"{rb.title}: {'ok' if rec.ok else 'FAILED'} in {d:.1f}s ({verdict} the {budget:g}s budget)"  # type: ignore[attr-defined]

        def answered(yes: bool | None) -> None:
            if yes:
                self._runbook_task(self.runbook.quick_rollback(), report)

        self.push_screen(ConfirmScreen(rb.title, self.engine.redactor.redact(rb.run), hosts, self._no_return_note()),
                         answered)

    def _no_return_note(self) -> str:
        done = self.runbook.no_return()
        if not done:
            return ""
        return "WARNING: past a point of no return; this rollback cannot undo: " + "; ".join(done)

    def action_baseline(self) -> None:
        if self._refuse_read_only():
            return
        self._sync(self.runbook.capture_baseline, "baseline recorded: regressions are judged against it from now on")

    def action_take_over(self) -> None:
        if self._refuse_read_only():
            return
        if self.session is None or not self.runbook.observer:
            self.notify("this cockpit already drives", timeout=3)
            return

        def answered(reason: str | None) -> None:
            if reason and self.session is not None:
                try:
                    self.session.take_over(reason)
                except CockpitError as exc:
                    self.notify(str(exc), severity="error", timeout=8)
                    return
                self.notify("you drive the runbook now", timeout=5)

        self.push_screen(ReasonPrompt(f"Take over from {self.runbook.driver}? Type the reason (journaled):",
                                      "why the lease is stale"), answered)

    def action_cancel_action(self, action_id: int, host: str | None) -> None:
        if self._refuse_read_only():
            return
        self.engine.actions.cancel(action_id, host)
        self.notify(f"cancelling on {host or 'every host'}", timeout=2)

    def action_retry_host(self, host: str) -> None:
        if self._refuse_read_only():
            return
        self.engine.retry(host)
        self.notify(f"retrying {host}", timeout=2)

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
        """(key, what it does, where) for every binding: the help screen and docs are built from this."""
        rows: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        for where, node in (("dashboard", self.dashboard), ("everywhere", self)):
            for key, bindings in node._bindings.key_to_bindings.items():
                for b in bindings:
                    if b.system or b.action in UNLISTED_ACTIONS:
                        continue
                    name = b.action.split("(")[0]
                    if node is self.dashboard and name in ("cancel", "cancel_all"):
                        pass  # shown only while an action runs, but always worth knowing
                    elif node is self.dashboard and self.dashboard.check_action(name, ()) is False:
                        continue  # e.g. runbook keys without a runbook
                    label = b.key_display or key
                    desc = b.tooltip or b.description or b.action
                    if (label, desc) in seen:
                        continue
                    seen.add((label, desc))
                    rows.append((label, desc, where))
        extra = [("ctrl+p", "Command palette: every action by name", "everywhere"),
                 ("enter", "Host detail (on a host row); Escape goes back", "dashboard")]
        keys = {(k, w) for k, _, w in extra}
        return [r for r in rows if (r[0], r[2]) not in keys] + extra

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        yield from super().get_system_commands(screen)
        yield SystemCommand("Probe now", "Run every check on the selected hosts (or all) now", self.action_probe_hosts)
        yield SystemCommand("Run a command", "An ad-hoc command on hosts you choose (confirmed first)",
                            lambda: self.action_adhoc_prompt(""))
        yield SystemCommand("Keys", "Every key binding", self.action_help)
        for a in self.engine.config.actions:
            yield SystemCommand(f"Action: {a.title}", f"key {a.key}: {a.run[:60]}",
                                lambda name=a.name: self.action_run_configured(  # type: ignore[misc]
                                    name, self.dashboard._targets()))
        for h in self.engine.config.hosts:
            yield SystemCommand(f"Host: {h.name}", "Open the host's detail", lambda n=h.name: self.action_host_detail(n))  # type: ignore[misc]
