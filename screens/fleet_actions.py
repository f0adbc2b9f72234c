"""The App's fleet actions: probe, ad-hoc and configured commands (confirmed, then fired), cancel, retry.

A mixin of :class:`screens.app.CockpitApp` (it uses the App's ``engine``,
``read_only`` and ``operator``). Firing only starts an action: the engine runs it
and reports back through the App's listener, so nothing here waits on a host.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError
from cockpit.inventory import select
from cockpit.secrets import SHOWN_MASK, Redactor
from screens.confirm import ConfirmScreen
from screens.prompt import AdHoc, CommandPrompt

if TYPE_CHECKING:
    from textual.app import App

    from cockpit.engine import Engine

    _AppBase = App[int]
else:
    _AppBase = object


def env_note(env: Iterable[tuple[str, str]], redactor: Redactor) -> str:
    """``env (on stdin): TOKEN=••••``: the variables the command gets besides its text, secrets hidden."""
    pairs = [f"{k}={redactor.redact(v, SHOWN_MASK)}" for k, v in env]
    return f"env (on its stdin, not in its argv): {', '.join(pairs)}" if pairs else ""


class FleetActions(_AppBase):
    """``action_*`` methods that fire commands on hosts; every one refuses in a read-only cockpit."""

    if TYPE_CHECKING:  # set by CockpitApp.__init__
        engine: Engine
        read_only: bool
        operator: str

    def _refuse_read_only(self) -> bool:
        if self.read_only:
            self.notify("READ-ONLY: this cockpit fires nothing (started with --read-only)", severity="warning")
        return self.read_only

    def action_probe_hosts(self, hosts: list[str] | None = None) -> None:
        if self._refuse_read_only():
            return
        names = hosts or [h.name for h in self.engine.config.hosts]
        self.engine.probe_now(names)
        self.notify(f"probing {len(names)} host{'s' if len(names) != 1 else ''}", timeout=2, markup=False)

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
                self.notify(f"{sel!r} matches no host", severity="error", markup=False)
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
                self.notify(f"{spec.title} runs on {', '.join(hosts)}: none of them is selected", severity="warning", markup=False)
                return
            hosts = chosen
        if spec.confirm:
            self._confirm_and_fire(spec.title, spec.run, hosts, "action", spec.timeout, spec.env)
        else:
            self._fire(spec.title, spec.run, hosts, "action", spec.timeout, spec.env)

    def _previews(self, template: str, hosts: Iterable[str]) -> list[tuple[str, str]]:
        """(host, the command as it runs there, secrets as ••••) for a confirmation.

        Raises:
            CockpitError: a placeholder value is not shell-safe on a host (nothing would run).
        """
        from cockpit.engine import preview_command

        return [(h, preview_command(template, self.engine.config.host(h), self.engine.redactor)) for h in hosts]

    def _previews_or_refuse(self, template: str, hosts: Iterable[str]) -> list[tuple[str, str]] | None:
        """:meth:`_previews`, or None after saying why nothing can run (a value that is not shell-safe)."""
        try:
            return self._previews(template, hosts)
        except CockpitError as exc:
            self.notify(f"refused: {exc.message}", severity="error", timeout=8, markup=False)
            return None

    def _confirm_and_fire(self, title: str, template: str, hosts: list[str], kind: str, timeout: float | None,
                          env: tuple[tuple[str, str], ...] = ()) -> None:
        if (commands := self._previews_or_refuse(template, hosts)) is None:
            return  # a typed {host} whose value is not shell-safe: nothing is run

        def answered(yes: bool | None) -> None:
            if yes:
                self._fire(title, template, hosts, kind, timeout, env)
            else:
                self.notify("cancelled: nothing was run", timeout=3)

        self.push_screen(ConfirmScreen(title, self.engine.redactor.redact(template), hosts, env_note(env, self.engine.redactor),
                                       commands), answered)

    def _fire(self, title: str, template: str, hosts: list[str], kind: str, timeout: float | None,
              env: tuple[tuple[str, str], ...] = ()) -> None:
        async def fire() -> None:  # the intent is written off the event loop: the screen never waits for it
            try:
                await self.engine.actions.start(title, template, hosts, timeout=timeout, operator=self.operator,
                                                kind=kind, env=dict(env))
            except CockpitError as exc:  # the journal refused the intent, or a placeholder is unsafe: nothing fired
                self.notify(f"refused: {exc.message}", severity="error", timeout=8, markup=False)

        self.run_worker(fire(), group="actions")

    def action_cancel_action(self, action_id: int, host: str | None) -> None:
        if self._refuse_read_only():
            return
        self.engine.actions.cancel(action_id, host)
        self.notify(f"cancelling on {host or 'every host'}", timeout=2, markup=False)

    def action_retry_host(self, host: str) -> None:
        if self._refuse_read_only():
            return
        self.engine.retry(host)
        self.notify(f"retrying {host}", timeout=2, markup=False)
