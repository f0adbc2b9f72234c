"""The ``[inventory]`` and ``[hosts]`` tables: imported hosts, then declared ones over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cockpit.config.ansible import DEFAULT_COMMAND_TIMEOUT, load_ansible
from cockpit.config.source import KeyPath, Reader, resolve_path
from cockpit.errors import ConfigError
from cockpit.inventory import is_glob
from cockpit.sanitize import strip_control
from cockpit.spec import HostSpec

__all__ = ["HOST_KEYS", "INVENTORY_KEYS", "name_problem", "origin_rows", "read_hosts", "read_inventory"]

INVENTORY_KEYS = ("ansible", "ansible_inventory_command", "ansible_inventory_timeout")
HOST_KEYS = ("address", "port", "user", "tags", "transport", "login_shell", "mounts", "identity_file", "proxy_jump")


def read_inventory(r: Reader, raw: Any, base: Path) -> list[HostSpec]:
    """Hosts of ``[inventory] ansible`` (one source or several); their own issues join this config's."""
    p: KeyPath = ("inventory",)
    t = r.table(p, raw)
    r.known(p, t, INVENTORY_KEYS)
    command = r.boolean((*p, "ansible_inventory_command"), t["ansible_inventory_command"]) \
        if "ansible_inventory_command" in t else False
    timeout = r.duration((*p, "ansible_inventory_timeout"), t["ansible_inventory_timeout"], DEFAULT_COMMAND_TIMEOUT) \
        if "ansible_inventory_timeout" in t else DEFAULT_COMMAND_TIMEOUT
    if "ansible" not in t:
        for key in ("ansible_inventory_command", "ansible_inventory_timeout"):
            if key in t:
                r.issue((*p, key), f"{key} is set but there is no [inventory] ansible source",
                        'add ansible = "hosts.ini" (or a list of sources), or remove it')
        return []
    texts = r.strings((*p, "ansible"), t["ansible"], bare_ok=True, example='"hosts.ini" or ["hosts.ini", "extra/"]')
    if not texts:
        return []
    sources = [text if "," in text else str(resolve_path(base, text)) for text in texts]  # "a,b," lists as given
    try:
        return load_ansible(sources, command=command, timeout=timeout)
    except ConfigError as exc:
        if len(exc.issues) == 1 and not exc.issues[0].key and exc.issues[0].line is None:
            issue = exc.issues[0]  # the file itself is unusable: point at the config key that names it
            r.issue((*p, "ansible"), f"{issue.message}: {issue.file}", issue.fix)
        else:
            r.issue((*p, "ansible"), f"the inventory has {len(exc.issues)} problem(s), listed below",
                    "fix the inventory, or remove [inventory] ansible")
            r.issues.extend(exc.issues)
        return []


def name_problem(name: str, what: str) -> str | None:
    """Why a host or service name is unusable (it must read unambiguously in selectors), or None."""
    if not name.strip() or any(c.isspace() or not c.isprintable() for c in name):
        return f"{what} name {name!r} must be non-empty, without spaces or control characters"
    if what == "host" and (name == "all" or name.startswith("tag:") or is_glob(name)):
        return f"host name {name!r} would read as a selector (all, tag:X, or a glob with * ? [)"
    return None


def read_hosts(r: Reader, raw: Any, inventory: list[HostSpec], base: Path) -> list[HostSpec]:
    """Declared hosts, each overriding an imported one of the same name, then the rest of the inventory."""
    table = r.table(("hosts",), raw)
    from_inventory = {h.name: h for h in inventory}
    hosts: list[HostSpec] = []
    for name, body in table.items():
        p: KeyPath = ("hosts", name)
        if (problem := name_problem(name, "host")) is not None:
            r.issue(p, problem, "rename the host (letters, digits, '.', '-', '_')")
        t = r.table(p, body)
        r.known(p, t, HOST_KEYS)
        old = from_inventory.get(name)
        transport = old.transport if old else "ssh"
        if "transport" in t:
            if t["transport"] in ("ssh", "local"):
                transport = t["transport"]
            else:
                r.issue((*p, "transport"), f"transport must be 'ssh' or 'local', got {t['transport']!r}",
                        'use transport = "ssh" (default) or "local" (run checks on this machine)')
        default_address = old.address if old else ("localhost" if transport == "local" else name)
        address = r.env_string((*p, "address"), t["address"], default_address, example='"host.example.net"') \
            if "address" in t else default_address
        tags = list(old.tags) if old else []
        for tag in r.strings((*p, "tags"), t["tags"], example='["web", "eu"]') if "tags" in t else []:
            if tag not in tags:
                tags.append(tag)
        mounts = old.mounts if old else ("/",)
        if "mounts" in t:
            given = r.strings((*p, "mounts"), t["mounts"], example='["/", "/var"]')
            bad = [m for m in given if not m.startswith("/")]
            if bad or t["mounts"] == []:
                r.issue((*p, "mounts"), "mounts must be a non-empty list of absolute paths"
                        + (f"; not absolute: {', '.join(bad)}" if bad else ""), 'e.g. mounts = ["/", "/var"]')
            mounts = tuple(given) or ("/",)
        identity = old.identity_file if old else None
        if "identity_file" in t and (text := r.string((*p, "identity_file"), t["identity_file"])):
            identity = str(resolve_path(base, text))
        jump = old.proxy_jump if old else None
        if "proxy_jump" in t:
            jump = r.env_string((*p, "proxy_jump"), t["proxy_jump"], example='"ops@bastion.example.net"') or None
            if jump is not None and any(c.isspace() for c in jump.strip()):
                r.issue((*p, "proxy_jump"), f"proxy_jump {jump!r} has spaces: jump hosts are separated by commas",
                        'e.g. proxy_jump = "ops@bastion1,bastion2:2222", or "none" to connect directly')
        hosts.append(HostSpec(
            name=name, address=address,
            port=r.port((*p, "port"), t["port"]) if "port" in t else (old.port if old else None),
            user=r.env_string((*p, "user"), t["user"], example='"ops"') or None if "user" in t
            else (old.user if old else None),
            tags=tuple(tags), transport=transport,
            login_shell=r.boolean((*p, "login_shell"), t["login_shell"], False) if "login_shell" in t
            else (old.login_shell if old else False),
            mounts=mounts, identity_file=identity, proxy_jump=jump, source=(r.file, r.locator.line(p)),
            proxy_command=old.proxy_command if old else None, origins=_origins(r, p, t, old),
        ))
    declared = {h.name for h in hosts}
    hosts.extend(h for h in inventory if h.name not in declared)
    if not hosts:
        r.issue(("hosts",), "no hosts: the config declares none and imports none",
                'add a [hosts.NAME] table (e.g. [hosts.web1] address = "web1.example.net") '
                "or point [inventory] ansible at an inventory")
    return hosts


def _origins(r: Reader, p: KeyPath, t: dict[str, Any], old: HostSpec | None) -> tuple[tuple[str, str], ...]:
    """The inventory's origins, with the fields this table sets pointing at its lines."""
    origins = dict(old.origins) if old else {}
    for key in ("address", "port", "user", "identity_file", "transport"):
        if key in t:
            origins[key] = f"{r.file}:{r.locator.line((*p, key))} (hosts.{p[-1]}.{key})"
    return tuple(origins.items())


_SHOWN = ("address", "port", "user", "identity_file", "proxy_jump", "proxy_command", "transport")


def origin_rows(hosts: list[HostSpec], base: Path | None) -> list[list[str]]:
    """``cockpit validate``: per inventory host, each connection field set by the inventory or the config, and where."""
    rows: list[list[str]] = []
    for h in hosts:
        if all(o.endswith(f"(hosts.{h.name}.{k})") for k, o in h.origins):
            continue  # declared in the config alone: its table says it all
        first = True
        for key in _SHOWN:
            where = h.origin(key)
            if where is None:
                continue
            if base is not None:
                where = where.replace(f"{base}/", "")
            value = getattr(h, key)
            rows.append([h.name if first else "", key, strip_control(str(value)), f"from {strip_control(where)}"])
            first = False
    return rows

