"""Writing cockpit configs that point at a test fleet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleet import Fleet


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def fleet_toml(fleet: Fleet, services: str = "", *, hosts: list[str] | None = None,
               ssh: dict[str, Any] | None = None, cockpit: dict[str, Any] | None = None,
               host_extra: dict[str, dict[str, Any]] | None = None) -> str:
    """A config for ``fleet`` (all hosts, or ``hosts``) plus the given services TOML."""
    ssh_opts: dict[str, Any] = {
        "known_hosts": str(fleet.known_hosts),
        "identity_files": [str(fleet.client_key)],
        "connect_timeout": "3s",
        "command_timeout": "10s",
        "config": "",
    }
    ssh_opts.update(ssh or {})
    ssh_opts = {k: v for k, v in ssh_opts.items() if v != ""}
    cockpit_opts = {"title": "Test fleet", "interval": "1s"}
    cockpit_opts.update(cockpit or {})
    lines = ["[cockpit]"] + [f"{k} = {_toml_value(v)}" for k, v in cockpit_opts.items()]
    lines += ["", "[ssh]"] + [f"{k} = {_toml_value(v)}" for k, v in ssh_opts.items()]
    for h in fleet.hosts:
        if hosts is not None and h.name not in hosts:
            continue
        lines += ["", f"[hosts.{h.name}]", f'address = "{h.address}"', f"port = {h.port}", f'user = "{fleet.user}"',
                  f'tags = ["fleet", "{h.name}-tag"]']
        for k, v in (host_extra or {}).get(h.name, {}).items():
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n\n" + services


def write_config(tmp_path: Path, fleet: Fleet, services: str = "", **kw: Any) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(fleet_toml(fleet, services, **kw))
    return path
