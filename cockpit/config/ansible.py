"""Ansible inventory import (INI or YAML): groups become tags, so ``tag:webservers`` works on it.

Only the connection variables are honoured (``ansible_host``, ``ansible_port``,
``ansible_user``, ``ansible_connection=local``, ``ansible_ssh_private_key_file``, and a
ProxyJump in ``ansible_ssh_common_args``/``ansible_ssh_extra_args``: ``-J X`` or
``-o ProxyJump=X``); everything else in an inventory is for Ansible and is ignored.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cockpit.errors import ConfigError, ConfigIssue
from cockpit.sanitize import strip_control
from cockpit.spec import HostSpec

__all__ = ["expand_host_range", "load_ansible"]


# --------------------------------------------------------------------------- host ranges

_RANGE = re.compile(r"\[([^\]:]*):([^\]:]*)(?::([^\]:]*))?\]")


def expand_host_range(pattern: str) -> list[str]:
    """Expand Ansible host ranges: ``web[01:03]`` -> web01, web02, web03; ``db-[a:c]``.

    Raises:
        ValueError: an unusable range (mixed kinds, unequal zero-padded widths,
            end before start, bad stride).
    """
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    start, end, stride_text = match.group(1), match.group(2), match.group(3)
    stride = 1
    if stride_text:
        if not stride_text.isdigit() or int(stride_text) < 1:
            raise ValueError(f"range stride {stride_text!r} must be a positive integer")
        stride = int(stride_text)
    start = start or "0"
    if not end:
        raise ValueError(f"range [{match.group(1)}:] needs an end")
    items: list[str]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        if width and len(end) != width:
            raise ValueError(f"zero-padded range [{start}:{end}] needs a start and end of the same width")
        lo, hi = int(start), int(end)
        if hi < lo:
            raise ValueError(f"range [{start}:{end}] ends before it starts")
        items = [str(n).zfill(width) for n in range(lo, hi + 1, stride)]
    elif len(start) == 1 and len(end) == 1 and start in string.ascii_letters and end in string.ascii_letters:
        letters = string.ascii_letters
        lo, hi = letters.index(start), letters.index(end)
        if hi < lo:
            raise ValueError(f"range [{start}:{end}] ends before it starts")
        items = [letters[i] for i in range(lo, hi + 1, stride)]
    else:
        raise ValueError(f"range [{start}:{end}] must be numbers (01:10) or single letters (a:f)")
    return [name for item in items for name in expand_host_range(f"{head}{item}{tail}")]


# --------------------------------------------------------------------------- parsing INI and YAML


@dataclass
class _Host:
    name: str
    line: int | None
    vars: dict[str, object] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


@dataclass
class _Group:
    name: str
    line: int | None
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, object] = field(default_factory=dict)


class _Inventory:
    """Groups and hosts as parsed, before flattening into HostSpecs."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.hosts: dict[str, _Host] = {}
        self.groups: dict[str, _Group] = {}
        self.issues: list[ConfigIssue] = []

    def issue(self, key: str, message: str, fix: str, line: int | None) -> None:
        self.issues.append(ConfigIssue(self.file, key, message, fix, line))

    def group(self, name: str, line: int | None) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name, line)
        return self.groups[name]

    def add_host(self, group: str | None, name: str, hvars: dict[str, object], line: int | None) -> None:
        if strip_control(name) != name or not name.isprintable():  # ESC, bidi overrides: printed raw otherwise
            self.issue(strip_control(name), f"host name {strip_control(name)!r} holds control or format characters",
                       "remove them from the inventory (letters, digits, '.', '-', '_')", line)
            return
        host = self.hosts.setdefault(name, _Host(name, line))
        host.vars.update(hvars)
        if group is not None and group not in ("all", "ungrouped"):
            if group not in host.groups:
                host.groups.append(group)
            grp = self.group(group, line)
            if name not in grp.hosts:
                grp.hosts.append(name)

    def to_specs(self) -> list[HostSpec]:
        parents: dict[str, list[str]] = {}
        for grp in self.groups.values():
            for child in grp.children:
                parents.setdefault(child, []).append(grp.name)
        group_order = {name: i for i, name in enumerate(self.groups)}

        def ancestry(group: str) -> list[tuple[int, str]]:
            """(depth, name) of a group and all its ancestors, depth from the top."""
            seen: dict[str, int] = {}

            def walk(name: str, trail: tuple[str, ...]) -> int:
                if name in trail:
                    cycle = " -> ".join((*trail, name))
                    raise _Cycle(cycle)
                if name in seen:
                    return seen[name]
                depth = 1 + max((walk(p, (*trail, name)) for p in parents.get(name, [])), default=0)
                seen[name] = depth
                return depth

            walk(group, ())
            return [(d, n) for n, d in seen.items()]

        specs: list[HostSpec] = []
        all_vars = self.groups["all"].vars if "all" in self.groups else {}
        for host in self.hosts.values():
            try:
                chain = sorted(
                    {item for g in host.groups for item in ancestry(g)},
                    key=lambda item: (item[0], item[1]),
                )
            except _Cycle as exc:
                self.issue("children", f"groups form a cycle: {exc}", "remove one of the :children entries", None)
                return []
            merged: dict[str, object] = dict(all_vars)
            for _, gname in chain:
                if gname in self.groups:
                    merged.update(self.groups[gname].vars)
            merged.update(host.vars)
            names = {n for _, n in chain} - {"all", "ungrouped"}
            tags = tuple(sorted(names, key=lambda n: group_order.get(n, len(group_order))))
            spec = self._spec(host, merged, tags)
            if spec is not None:
                specs.append(spec)
        return specs

    def _spec(self, host: _Host, hvars: dict[str, object], tags: tuple[str, ...]) -> HostSpec | None:
        def var(*names: str) -> object | None:
            for n in names:
                if n in hvars and hvars[n] is not None:
                    return hvars[n]
            return None

        address = var("ansible_host", "ansible_ssh_host")
        user = var("ansible_user", "ansible_ssh_user")
        key_file = var("ansible_ssh_private_key_file", "ansible_private_key_file")
        connection = var("ansible_connection")
        port_value = var("ansible_port", "ansible_ssh_port")
        port: int | None = None
        if port_value is not None:
            try:
                port = int(str(port_value))
            except ValueError:
                port = -1
            if not 1 <= port <= 65535:
                self.issue(host.name, f"ansible_port {port_value!r} is not a port number",
                           "use an integer from 1 to 65535", host.line)
                return None
        transport = "local" if str(connection) == "local" else "ssh"
        jump = _proxy_jump(" ".join(str(v) for v in (var("ansible_ssh_common_args"), var("ansible_ssh_extra_args"))
                                    if v is not None))
        default_address = "localhost" if transport == "local" else host.name
        return HostSpec(
            name=host.name,
            address=str(address) if address is not None else default_address,
            port=port,
            user=str(user) if user is not None else None,
            tags=tags,
            transport=transport,  # type: ignore[arg-type]
            identity_file=str(Path(str(key_file)).expanduser()) if key_file is not None else None,
            proxy_jump=jump,
            source=(self.file, host.line),
        )


def _proxy_jump(args: str) -> str | None:
    """The jump chain in ssh arguments as Ansible passes them (``-J X``, ``-o ProxyJump=X``), else None."""
    try:
        words = shlex.split(args)
    except ValueError:
        return None
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w == "-J" and nxt:
            return nxt
        if w.startswith("-J") and len(w) > 2:
            return w[2:]
        opt = nxt if w == "-o" else (w[2:] if w.startswith("-o") else "")
        key, sep, value = opt.replace(" ", "=", 1).partition("=")
        if sep and key.lower() == "proxyjump" and value:
            return value
    return None


class _Cycle(Exception):
    pass


def _split_host_spec(token: str) -> tuple[str, int | None]:
    """``host:2222`` -> (host, 2222); IPv6 addresses and bare names are left alone."""
    head, sep, tail = token.rpartition(":")
    if sep and tail.isdigit() and ":" not in head and head:
        return head, int(tail)
    return token, None


def _parse_ini(inv: _Inventory, text: str) -> None:
    section, kind = "ungrouped", "hosts"
    header = re.compile(r"^\[([^\]\s]+)\]$")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = header.match(line.split("#", 1)[0].split(";", 1)[0].strip())
            if m is None:
                inv.issue(line, f"malformed section header {line!r}",
                          "write [group], [group:children] or [group:vars]", lineno)
                continue
            name, _, suffix = m.group(1).partition(":")
            if suffix not in ("", "children", "vars") or not name:
                inv.issue(line, f"unknown section kind {suffix!r} in {line!r}",
                          "use [group], [group:children] or [group:vars]", lineno)
                section, kind = name or "?", "skip"
                continue
            section, kind = name, suffix or "hosts"
            inv.group(section, lineno)
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            inv.issue(f"{section}", f"cannot parse line: {exc}", "check the quotes on this line", lineno)
            continue
        if not tokens or kind == "skip":
            continue
        if kind == "children":
            if len(tokens) != 1:
                inv.issue(f"{section}:children", f"expected one group name per line, got {line!r}",
                          "list each child group on its own line", lineno)
                continue
            grp = inv.group(section, lineno)
            if tokens[0] not in grp.children:
                grp.children.append(tokens[0])
            inv.group(tokens[0], lineno)
            continue
        pairs, bad = _pairs(tokens if kind == "vars" else tokens[1:])
        if bad:
            inv.issue(f"{section}", f"expected key=value, got {bad!r}", "write variables as key=value", lineno)
            continue
        if kind == "vars":
            inv.group(section, lineno).vars.update(pairs)
            continue
        name, port = _split_host_spec(tokens[0])
        if port is not None:
            pairs.setdefault("ansible_port", port)
        try:
            names = expand_host_range(name)
        except ValueError as exc:
            inv.issue(f"{section}.{name}", f"bad host range: {exc}", "write ranges as web[01:10] or db-[a:f]", lineno)
            continue
        for host in names:
            inv.add_host(section, host, pairs, lineno)


def _pairs(tokens: Iterable[str]) -> tuple[dict[str, object], str | None]:
    out: dict[str, object] = {}
    for tok in tokens:
        key, eq, value = tok.partition("=")
        if not eq or not key:
            return out, tok
        out[key] = value
    return out, None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _yaml_vars(inv: _Inventory, node: yaml.Node, where: str) -> dict[str, object]:
    if _is_null(node):
        return {}
    if not isinstance(node, yaml.MappingNode):
        inv.issue(where, "expected a mapping of variables", "write variables as key: value", _line(node))
        return {}
    out: dict[str, object] = {}
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode):
            out[str(k.value)] = v.value if isinstance(v, yaml.ScalarNode) and not _is_null(v) else None
    return out


def _yaml_group(inv: _Inventory, name: str, node: yaml.Node, trail: tuple[str, ...]) -> None:
    grp = inv.group(name, _line(node))
    if _is_null(node):
        return
    if not isinstance(node, yaml.MappingNode):
        inv.issue(".".join(trail), f"group {name!r} must be a mapping with hosts, children or vars",
                  "indent hosts:, children: and vars: under the group name", _line(node))
        return
    for key_node, value in node.value:
        key = str(key_node.value)
        path = ".".join((*trail, key))
        if key == "hosts":
            if _is_null(value):
                continue
            if not isinstance(value, yaml.MappingNode):
                inv.issue(path, "hosts must be a mapping of host names (each followed by ':')",
                          "write each host as `name:` on its own line under hosts:", _line(value))
                continue
            for hkey, hval in value.value:
                hname, port = _split_host_spec(str(hkey.value))
                hvars = _yaml_vars(inv, hval, f"{path}.{hname}")
                if port is not None:
                    hvars.setdefault("ansible_port", port)
                try:
                    names = expand_host_range(hname)
                except ValueError as exc:
                    inv.issue(f"{path}.{hname}", f"bad host range: {exc}",
                              "write ranges as web[01:10] or db-[a:f]", _line(hkey))
                    continue
                for host in names:
                    inv.add_host(name, host, hvars, _line(hkey))
        elif key == "children":
            if _is_null(value):
                continue
            if not isinstance(value, yaml.MappingNode):
                inv.issue(path, "children must be a mapping of group names",
                          "write each child group as `name:` under children:", _line(value))
                continue
            for ckey, cval in value.value:
                child = str(ckey.value)
                if child not in grp.children:
                    grp.children.append(child)
                _yaml_group(inv, child, cval, (*trail, key, child))
        elif key == "vars":
            grp.vars.update(_yaml_vars(inv, value, path))
        else:
            inv.issue(path, f"unexpected key {key!r} in group {name!r}",
                      "a group holds only hosts:, children: and vars:", _line(key_node))


def _parse_yaml(inv: _Inventory, text: str) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        inv.issue("", f"YAML syntax error: {problem}", "fix the YAML syntax at that spot",
                  mark.line + 1 if mark is not None else None)
        return
    if root is None or _is_null(root):
        return
    if not isinstance(root, yaml.MappingNode):
        inv.issue("", "an Ansible YAML inventory must be a mapping of groups (usually starting with all:)",
                  "start the file with `all:` followed by hosts: and children:", _line(root))
        return
    for key_node, value in root.value:
        name = str(key_node.value)
        _yaml_group(inv, name, value, (name,))


def _looks_like_yaml(text: str) -> bool:
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("---"):
            return True
        if line.startswith("["):
            return False
        return bool(re.match(r"^[^\s=]+:\s*(#.*)?$", line))
    return False


def load_ansible(path: Path | str) -> list[HostSpec]:
    """Read an Ansible inventory (INI or YAML) into hosts, groups becoming tags.

    The format is chosen by extension (``.yml``/``.yaml``/``.ini``), else by
    content. Hosts come out in the order they first appear.

    Raises:
        ConfigError: unreadable or malformed inventory, with file and line.
    """
    path = Path(path)
    inv = _Inventory(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(ConfigIssue(str(path), "", "inventory file does not exist",
                                      "check [inventory] ansible (relative to the config file)")) from None
    except IsADirectoryError:
        raise ConfigError(ConfigIssue(str(path), "", "inventory path is a directory",
                                      "point [inventory] ansible at one inventory file")) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(ConfigIssue(str(path), "", f"inventory is not UTF-8 text ({exc.reason})",
                                      "save the inventory as UTF-8")) from None
    except OSError as exc:
        raise ConfigError(ConfigIssue(str(path), "", f"cannot read inventory: {exc.strerror or exc}",
                                      "check the file's permissions")) from None
    suffix = path.suffix.lower()
    try:
        if suffix in (".yml", ".yaml") or (suffix != ".ini" and _looks_like_yaml(text)):
            _parse_yaml(inv, text)
        else:
            _parse_ini(inv, text)
    except RecursionError:
        raise ConfigError(ConfigIssue(str(path), "", "the inventory is nested too deep to read",
                                      "no inventory needs more than a few levels: remove the extra nesting")) from None
    specs = inv.to_specs() if not inv.issues else []
    if inv.issues:
        raise ConfigError(inv.issues)
    return specs
