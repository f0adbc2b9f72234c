"""Watching the config file (and the inventories it names) for edits made during a cutover.

Operators fix a command, move a host to a later batch or add a step while the cockpit runs. The session
polls the files' size and modification time; on a change it validates the new version off the event loop
and hands back a :class:`PlanUpdate`: the errors when it is invalid (the running plan stays), else the new
config with its plan version and the diff by phase and step. Nothing is applied here: the driver accepts
it (journaled), see :meth:`cockpit.session.Session.accept_update`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cockpit.config.loader import load_config
from cockpit.errors import ConfigError
from cockpit.plans import PlanChange, PlanVersion, diff_hosts, diff_plans, plan_version
from cockpit.spec import Config

#: parts of a config applied only by a restart, and why they cannot be applied in place (services, hosts and
#: the runbook are applied in place when the driver accepts the edit: :meth:`cockpit.engine.Engine.apply_config`)
RESTART_PARTS = {
    "ssh": "[ssh]: the open connections, their host-key policy and the handshake limit were made with the old "
           "settings; reconnecting every host mid-cutover is a restart",
    "cockpit": "[cockpit]: the title, the polling interval, the history kept and the state directory (where "
               "action output is spooled) are set when the cockpit starts",
    "journal": "[journal]: the journal file and the driver's lease are open with the old path and lease_ttl",
    "actions": "[actions.*]: the action keys are bound when the screen starts",
}


@dataclass(frozen=True)
class PlanUpdate:
    """A new version of the config on disk: invalid (``errors``) or valid (``config``, ``plan``, ``changes``)."""

    errors: tuple[str, ...] = ()
    config: Config | None = None
    plan: PlanVersion | None = None
    changes: tuple[PlanChange, ...] = ()
    restart: tuple[str, ...] = ()  # parts that changed but are applied only by a restart (RESTART_PARTS)
    fleet: tuple[PlanChange, ...] = ()  # hosts added, removed or changed (applied in place when accepted)

    def lines(self) -> list[str]:
        """What the operator reads: the errors, or the diff and what it takes to apply it."""
        if self.errors:
            return ["CONFIG EDIT REFUSED: the file on disk is invalid; the running plan stays:", *self.errors]
        head = f"PLAN CHANGED on disk (plan {self.plan.fingerprint if self.plan else '?'}):"
        out = [head, *(c.render() for c in (*self.changes, *self.fleet))]
        if self.restart:
            out.append("NEEDS A RESTART, not applied in place (accepting this edit is refused until the cockpit "
                       "restarts on it, or the file is put back):")
            out += [f"    {RESTART_PARTS[name]}" for name in self.restart]
        return out


class ConfigWatch:
    """Notices edits to a config and its inventories by size and mtime; validates the new version."""

    def __init__(self, config: Config) -> None:
        self.path = config.path
        self._stamps = self._read(config)

    @staticmethod
    def files(config: Config) -> list[Path]:
        """The config file and every inventory file a host or one of its connection fields came from."""
        out = [config.path] if config.path is not None else []
        for h in config.hosts:
            named = [h.source[0]] if h.source and h.source[0] else []
            for _field, origin in h.origins:  # "group_vars/web.yml:3 (ansible_port)"
                file, _, line = origin.rsplit(" (", 1)[0].rpartition(":")
                if file and line.isdigit():
                    named.append(file)
            for p in map(Path, named):
                if p not in out:
                    out.append(p)
        return out

    def _read(self, config: Config) -> dict[Path, tuple[int, int] | None]:
        stamps: dict[Path, tuple[int, int] | None] = {}
        for p in self.files(config):
            try:
                st = p.stat()
                stamps[p] = (st.st_mtime_ns, st.st_size)
            except OSError:
                stamps[p] = None
        return stamps

    def changed(self) -> bool:
        """True once per edit (any watched file's size or mtime differs from the last look)."""
        now: dict[Path, tuple[int, int] | None] = {}
        for p in self._stamps:
            try:
                st = p.stat()
                now[p] = (st.st_mtime_ns, st.st_size)
            except OSError:
                now[p] = None
        if now == self._stamps:
            return False
        self._stamps = now
        return True

    def check(self, running: Config, plan: PlanVersion) -> PlanUpdate | None:
        """Validate the file now against the running config; None when its plan did not change."""
        if self.path is None:
            return None
        try:
            new = load_config(self.path)
        except ConfigError as exc:
            return PlanUpdate(errors=tuple(str(exc).splitlines()))
        except (OSError, UnicodeDecodeError) as exc:  # mid-save by an editor, a permission change
            return PlanUpdate(errors=(f"{self.path}: cannot be read: {exc}",))
        for p, stamp in self._read(new).items():  # an inventory named only by the new version is watched too
            self._stamps.setdefault(p, stamp)
        version = plan_version(new)
        restart = tuple(name for name in RESTART_PARTS if getattr(new, name) != getattr(running, name))
        fleet = tuple(diff_hosts(running, new))
        if version.fingerprint == plan.fingerprint and not restart and not fleet:
            return None
        changes = tuple(diff_plans(plan.text, version.text))
        return PlanUpdate(config=new, plan=version, changes=changes, restart=restart, fleet=fleet)
