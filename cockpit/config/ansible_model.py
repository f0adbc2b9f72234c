"""An Ansible inventory as Ansible holds it (groups, children, hosts, variables with their origin), and
its flattening into :class:`~cockpit.spec.HostSpec` with Ansible's variable precedence.

Every variable keeps where it was set ("hosts.ini:12", "group_vars/web.yml:3") so that
``cockpit validate`` can say where each connection field came from.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cockpit.errors import ConfigIssue
from cockpit.sanitize import strip_control
from cockpit.spec import HostSpec

__all__ = ["IMPLICIT_GROUPS", "InvGroup", "InvHost", "Inventory", "Var", "VarsLookup"]

IMPLICIT_GROUPS = ("all", "ungrouped")

#: Ansible's ssh connection plugin reads each option from these variables; the last one set wins
#: (ansible-core's config manager walks the list and keeps overwriting).
_ADDRESS_VARS = ("ansible_host", "ansible_ssh_host")
_PORT_VARS = ("ansible_port", "ansible_ssh_port")
_USER_VARS = ("ansible_user", "ansible_ssh_user")
_KEY_VARS = ("ansible_private_key_file", "ansible_ssh_private_key_file")
#: on the ssh command line in this order (ssh_args, then common, then extra); OpenSSH keeps the first value
_ARGS_VARS = ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")
#: connection plugins that mean "ssh to the host" (the cockpit uses its own SSH client for all of them)
SSH_CONNECTIONS = frozenset({"ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh",
                             "ansible.builtin.paramiko_ssh", "ansible.legacy.ssh"})
LOCAL_CONNECTIONS = frozenset({"local", "ansible.builtin.local", "ansible.legacy.local"})


@dataclass(frozen=True)
class Var:
    """A variable's value and where it was set."""

    value: object
    origin: str


@dataclass
class InvHost:
    name: str
    file: str
    line: int | None
    vars: dict[str, Var] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # direct groups, in order of appearance


@dataclass
class InvGroup:
    name: str
    line: int | None
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Var] = field(default_factory=dict)


#: group_vars/host_vars beside the sources: (kind, name) -> one mapping per source (empty ones too), in source order
VarsLookup = Callable[[str, str], list[dict[str, Var]]]


class Inventory:
    """Groups and hosts of every source, merged as Ansible merges them, before flattening."""

    def __init__(self, file: str) -> None:
        self.file = file  # the file being parsed now (issues name it)
        self.hosts: dict[str, InvHost] = {}
        self.groups: dict[str, InvGroup] = {name: InvGroup(name, None) for name in IMPLICIT_GROUPS}
        self.issues: list[ConfigIssue] = []

    def issue(self, key: str, message: str, fix: str, line: int | None, file: str | None = None) -> None:
        self.issues.append(ConfigIssue(file or self.file, key, message, fix, line))

    def group(self, name: str, line: int | None) -> InvGroup:
        if name not in self.groups:
            self.groups[name] = InvGroup(name, line)
        return self.groups[name]

    def add_child(self, parent: str, child: str) -> None:
        grp = self.group(parent, None)
        if child not in grp.children:
            grp.children.append(child)

    def add_host(self, group: str | None, name: str, hvars: Mapping[str, Var], line: int | None) -> None:
        if strip_control(name) != name or not name.isprintable():  # ESC, bidi overrides: printed raw otherwise
            self.issue(strip_control(name), f"host name {strip_control(name)!r} holds control or format characters",
                       "remove them from the inventory (letters, digits, '.', '-', '_')", line)
            return
        host = self.hosts.setdefault(name, InvHost(name, self.file, line))
        host.vars.update(hvars)
        if group is not None and group != "all":
            if group not in host.groups:
                host.groups.append(group)
            grp = self.group(group, line)
            if name not in grp.hosts:
                grp.hosts.append(name)

    # ----------------------------------------------------------------------- flattening

    def _parents(self) -> dict[str, list[str]]:
        parents: dict[str, list[str]] = {}
        for grp in self.groups.values():
            for child in grp.children:
                parents.setdefault(child, []).append(grp.name)
        return parents

    def to_specs(self, plugin_vars: VarsLookup | None = None) -> list[HostSpec]:
        """One HostSpec per host; ``plugin_vars`` gives group_vars/host_vars (None: already merged)."""
        parents = self._parents()
        depth: dict[str, int] = {"all": 0}

        def depth_of(name: str, trail: tuple[str, ...]) -> int:
            """Ansible's group depth: the longest path from ``all``."""
            if name in trail:
                raise _Cycle(" -> ".join((*trail, name)))
            if name not in depth:
                ups = [p for p in parents.get(name, []) if p != "all"]
                depth[name] = 1 + max((depth_of(p, (*trail, name)) for p in ups), default=0)
            return depth[name]

        def ancestors(name: str, seen: set[str]) -> None:
            for p in parents.get(name, []):
                if p not in seen:
                    seen.add(p)
                    ancestors(p, seen)

        order = {name: i for i, name in enumerate(self.groups)}
        priorities: dict[str, int] = {}

        def priority(group: str) -> int:
            if group not in priorities:
                priorities[group] = self._priority(group)
            return priorities[group]

        specs: list[HostSpec] = []
        lineage: dict[tuple[str, ...], set[str]] = {}  # hosts of a range share their groups
        for host in self.hosts.values():
            key = tuple(host.groups)
            if key not in lineage:
                lineage[key] = set(key)
                for g in key:
                    ancestors(g, lineage[key])
            names = set(lineage[key])
            names.discard("all")
            names = {n for n in names if n != "ungrouped"} or {"ungrouped"}  # as Ansible's reconcile does
            try:
                chain = sorted(names, key=lambda n: (depth_of(n, ()), priority(n), n))
            except _Cycle as exc:
                self.issue("children", f"groups form a cycle: {exc}", "remove one of the :children entries", None)
                return []
            merged: dict[str, Var] = dict(self.groups["all"].vars)
            for g in chain:
                merged.update(self.groups[g].vars if g in self.groups else {})
            if plugin_vars is not None:  # Ansible's default precedence: group_vars/all, then the groups'
                for layer in plugin_vars("group", "all"):
                    merged.update(layer)
                for layer in _by_source([plugin_vars("group", g) for g in chain]):
                    merged.update(layer)
            merged.update(host.vars)
            if plugin_vars is not None:
                for layer in plugin_vars("host", host.name):
                    merged.update(layer)
            tags = tuple(sorted(names - set(IMPLICIT_GROUPS), key=lambda n: order.get(n, len(order))))
            spec = self._spec(host, merged, tags)
            if spec is not None:
                specs.append(spec)
        return specs

    def _at(self, host: InvHost, origin: str, message: str, fix: str) -> None:
        """An issue placed where the variable was set (where the fix goes), else on the host's line."""
        file, _, line = origin.rpartition(":")
        if file and line.isdigit():
            self.issue(host.name, message, fix, int(line), file)
        else:
            self.issue(host.name, message, fix, host.line, host.file)

    def _priority(self, group: str) -> int:
        var = self.groups[group].vars.get("ansible_group_priority") if group in self.groups else None
        try:
            return int(str(var.value)) if var is not None else 1
        except ValueError:
            return 1

    def _spec(self, host: InvHost, hvars: dict[str, Var], tags: tuple[str, ...]) -> HostSpec | None:
        origins: dict[str, str] = {}
        bad = len(self.issues)

        def var(field_name: str, names: tuple[str, ...]) -> str | None:
            found = [(n, hvars[n]) for n in names if n in hvars and hvars[n].value is not None]
            if not found:
                return None
            name, v = found[-1]
            text = str(v.value)
            if "{{" in text or "{%" in text:
                self._at(host, v.origin, f"{name} of host {host.name!r} is a Jinja template ({text!r}); the "
                         "cockpit does not evaluate templates", f"write the value out, or set {field_name} in "
                         f"[hosts.{host.name}] of the cockpit config")
                return None
            origins[field_name] = f"{v.origin} ({name})"
            return text

        connection = var("transport", ("ansible_connection",))
        transport = "ssh"
        if connection is not None:
            if connection in LOCAL_CONNECTIONS:
                transport = "local"
            elif connection not in SSH_CONNECTIONS:
                self._at(host, hvars["ansible_connection"].origin, f"host {host.name!r} has ansible_connection="
                         f"{connection!r}; the cockpit reaches hosts over ssh (ssh, smart, paramiko) or runs "
                         "locally (local) only", "use ansible_connection=ssh or local for this host, or leave it "
                         "out of the cockpit's inventory")
        address = var("address", _ADDRESS_VARS)
        user = var("user", _USER_VARS)
        for field_name, text in (("address", address), ("user", user)):
            if text is not None and (not text.strip() or any(c.isspace() for c in text)):
                self._at(host, origins[field_name].rsplit(" (", 1)[0], f"the {field_name} of host {host.name!r} is "
                         f"{text!r}: no ssh can connect with spaces in it", "in [group:vars] Ansible keeps "
                         "everything after the first '=' as the value, comments included: put the comment on a "
                         "line of its own")
        key_file = var("identity_file", _KEY_VARS)
        port_text = var("port", _PORT_VARS)
        port: int | None = None
        if port_text is not None:
            port = int(port_text) if port_text.isdigit() else -1
            if not 1 <= port <= 65535:
                self._at(host, origins["port"].rsplit(" (", 1)[0], f"ansible_port {port_text!r} of host "
                         f"{host.name!r} is not a port number", "use an integer from 1 to 65535")
        proxy_jump, proxy_command = self._proxy(host, hvars, origins)
        if len(self.issues) > bad:
            return None
        if address is None and transport == "ssh":
            origins["address"] = f"{host.file}:{host.line} (the inventory name)" if host.line \
                else f"{host.file} (the inventory name)"
        default_address = "localhost" if transport == "local" else host.name
        return HostSpec(
            name=host.name,
            address=address if address is not None else default_address,
            port=port,
            user=user,
            tags=tags,
            transport=transport,  # type: ignore[arg-type]
            identity_file=str(Path(key_file).expanduser()) if key_file is not None else None,
            source=(host.file, host.line),
            proxy_jump=proxy_jump,
            proxy_command=proxy_command,
            origins=tuple(origins.items()),
        )

    def _proxy(self, host: InvHost, hvars: dict[str, Var], origins: dict[str, str]) -> tuple[str | None, str | None]:
        """ProxyJump / ProxyCommand from the ssh arguments, the first one on Ansible's ssh command line winning."""
        for name in _ARGS_VARS:
            v = hvars.get(name)
            if v is None or v.value is None or not str(v.value).strip():
                continue
            if "{{" in str(v.value) or "{%" in str(v.value):
                self._at(host, v.origin, f"{name} of host {host.name!r} is a Jinja template ({v.value!r}); the "
                         "cockpit does not evaluate templates", "write the ssh arguments out")
                return None, None
            try:
                found = proxy_from_args(str(v.value))
            except ValueError as exc:
                self._at(host, v.origin, f"{name} of host {host.name!r}: {exc}",
                         "set ansible_host, ansible_port, ansible_user or ansible_ssh_private_key_file instead, "
                         "or set the value in the cockpit config")
                return None, None
            if found is not None:
                option, value = found
                if value.lower() == "none":  # OpenSSH: none on the command line overrides the ssh_config's
                    value = "none"
                origins["proxy_jump" if option == "proxyjump" else "proxy_command"] = f"{v.origin} ({name})"
                return (value, None) if option == "proxyjump" else (None, None if value == "none" else value)
        return None, None


#: options in the ssh arguments that would send the connection somewhere the cockpit does not: refused
_REFUSED_OPTIONS = {"hostname": "ansible_host", "port": "ansible_port", "user": "ansible_user",
                    "identityfile": "ansible_ssh_private_key_file"}
_REFUSED_FLAGS = {"-p": "ansible_port", "-l": "ansible_user", "-i": "ansible_ssh_private_key_file"}
#: ``-o Key=value`` or ``-o "Key value"``: the keyword ends at the first '=' or blank, as OpenSSH reads it
_OPTION = re.compile(r"\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*)", re.DOTALL)
#: ssh flags that take an argument (so their argument is not read as an option)
_FLAGS_WITH_ARG = set("BbcDEeFIiJLlmOoPpQRSWw")


@lru_cache(maxsize=256)  # a group's ssh args are the same string for each of its hosts
def proxy_from_args(text: str) -> tuple[str, str] | None:
    """The first ``-J``/``-o ProxyJump=``/``-o ProxyCommand=`` in ssh arguments: (option, value), or None.

    Raises:
        ValueError: an option that changes the host, port, user or key, which the cockpit does not take
            from ssh arguments (it would connect somewhere other than what it shows).
    """
    tokens = shlex.split(text)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _REFUSED_FLAGS or (tok[:2] in _REFUSED_FLAGS and len(tok) > 2):
            raise ValueError(f"the ssh option {tok[:2]} is not read by the cockpit (use {_REFUSED_FLAGS[tok[:2]]})")
        if tok.startswith("-J"):
            value = tok[2:] or (tokens[i + 1] if i + 1 < len(tokens) else "")
            return "proxyjump", value
        if tok.startswith("-o"):
            opt = tok[2:] or (tokens[i + 1] if i + 1 < len(tokens) else "")
            i += 1 if tok == "-o" else 0
            m = _OPTION.match(opt)
            key, value = (m.group(1).lower(), m.group(2).strip()) if m else ("", "")
            if key in ("proxyjump", "proxycommand"):
                return key, value
            if key in _REFUSED_OPTIONS:
                raise ValueError(f"the ssh option {opt.split('=', 1)[0]} is not read by the cockpit "
                                 f"(use {_REFUSED_OPTIONS[key]})")
        elif len(tok) == 2 and tok[0] == "-" and tok[1] in _FLAGS_WITH_ARG:
            i += 1
        i += 1
    return None


def _by_source(per_group: list[list[dict[str, Var]]]) -> list[dict[str, Var]]:
    """Ansible merges group_vars source by source, and within a source group by group."""
    width = max((len(layers) for layers in per_group), default=0)
    return [layers[s] for s in range(width) for layers in per_group if s < len(layers)]


class _Cycle(Exception):
    pass
