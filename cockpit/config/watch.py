"""Watching the config file (and the inventories it names) for edits made during a cutover.

Operators fix a command, move a host to a later batch or add a step while the cockpit runs. The session
polls the files' size and modification time; on a change it validates the new version off the event loop
and hands back a :class:`PlanUpdate`: the errors when it is invalid (the running plan stays), else the new
config with its plan version and the diff by phase and step. Nothing is applied here: the driver accepts
it (journaled), see :meth:`cockpit.session.Session.accept_update`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from cockpit.config.loader import load_config
from cockpit.errors import ConfigError
from cockpit.plans import PlanChange, PlanVersion, diff_plans, plan_version
from cockpit.spec import Config

#: parts of a config the running engine was built from: a change to them needs a restart, not a reload
RESTART_PARTS = ("hosts", "services", "ssh", "assignments", "cockpit", "journal", "actions")


@dataclass(frozen=True)
class PlanUpdate:
    """A new version of the config on disk: invalid (``errors``) or valid (``config``, ``plan``, ``changes``)."""

    errors: tuple[str, ...] = ()
    config: Config | None = None
    plan: PlanVersion | None = None
    changes: tuple[PlanChange, ...] = ()
    restart: tuple[str, ...] = ()  # parts that changed but are applied only by a restart

    def lines(self) -> list[str]:
        """What the operator reads: the errors, or the diff and what it takes to apply it."""
        if self.errors:
            return ["CONFIG EDIT REFUSED: the file on disk is invalid; the running plan stays:", *self.errors]
        head = f"PLAN CHANGED on disk (plan {self.plan.fingerprint if self.plan else '?'}):"
        out = [head, *(c.render() for c in self.changes)]
        if self.restart:
            out.append(f"also changed: {', '.join(self.restart)} (applied only by restarting the cockpit)")
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
        if version.fingerprint == plan.fingerprint and not restart:
            return None
        changes = tuple(diff_plans(plan.text, version.text))
        return PlanUpdate(config=dataclasses.replace(running, runbook=new.runbook) if not restart else new,
                          plan=version, changes=changes, restart=restart)
