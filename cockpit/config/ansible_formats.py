"""Ansible's INI and YAML inventory formats, read as ansible-core's ``ini`` and ``yaml`` plugins read them.

The rules followed are those of ansible-core 2.19 (``plugins/inventory/ini.py``, ``yaml.py``): in
``[group:vars]`` everything after the first ``=`` is the value, comments included, and values go
through ``ast.literal_eval`` as Ansible's do; on host lines shlex splits the tokens and ``#`` starts a
comment; a child group must be declared (``[child]`` or ``[child:children]``) somewhere in the file or
an earlier source.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
import warnings
from typing import Any

import yaml

from cockpit.config.ansible_model import Inventory, Var

__all__ = ["compose", "expand_host_range", "ini_value", "parse_ini", "parse_yaml", "split_host_pattern", "yaml_mapping"]


# --------------------------------------------------------------------------- host ranges

_RANGE = re.compile(r"\[([^\]:]*):([^\]:]*)(?::([^\]:]*))?\]")


def expand_host_range(pattern: str) -> list[str]:
    """Expand Ansible host ranges: ``web[01:03]`` -> web01, web02, web03; ``db-[a:c]``; ``n[0:10:5]``.

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


_BRACKETED_V6 = re.compile(r"^\[([0-9a-fA-F:.]+)\](?::(\d+))?$")


def split_host_pattern(token: str) -> tuple[str, int | None]:
    """``host:2222`` -> (host, 2222); ``[::1]:22`` -> (::1, 22); bare IPv6 addresses and names are left alone."""
    if (m := _BRACKETED_V6.match(token)) is not None:
        return m.group(1), int(m.group(2)) if m.group(2) else None
    head, sep, tail = token.rpartition(":")
    if sep and tail.isdigit() and ":" not in head and head:
        return head, int(tail)
    return token, None


def _hosts_of(inv: Inventory, pattern: str, where: str, line: int | None) -> tuple[list[str], int | None]:
    name, port = split_host_pattern(pattern)
    if pattern.endswith(":") and port is None:
        inv.issue(where, f"host pattern {pattern!r} ends in ':'", "write host:PORT with a port number, or drop the ':'",
                  line)
        return [], None
    try:
        return expand_host_range(name), port
    except ValueError as exc:
        inv.issue(where, f"bad host range: {exc}", "write ranges as web[01:10] or db-[a:f]", line)
        return [], None


# --------------------------------------------------------------------------- INI

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


def ini_value(text: str) -> object:
    """An INI value as Ansible's ``_parse_value``: a Python literal if it is one, else the text as written."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _coerce(value)


def _coerce(value: Any) -> object:
    if isinstance(value, (list, tuple, set)):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def parse_ini(inv: Inventory, text: str) -> None:
    """Read one INI inventory into ``inv`` (shared by every source, as Ansible's is)."""
    section, state = "ungrouped", "hosts"
    pending: dict[str, dict[str, Any]] = {}  # groups named before they are declared, as Ansible tracks them
    file = inv.file
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if (m := _SECTION.match(line)) is not None:
            section, state = m.group(1), m.group(2) or "hosts"
            if state not in ("hosts", "children", "vars"):
                inv.issue(line, f"unknown section kind {state!r} in {line!r}",
                          "use [group], [group:children] or [group:vars]", lineno)
                state = "skip"
                continue
            if section not in inv.groups and state == "vars" and section not in pending:
                pending[section] = {"line": lineno, "state": "vars", "parents": []}
            inv.group(section, lineno)
            if section in pending and state != "vars":
                _declare(inv, section, pending)
            continue
        if line.startswith("["):
            inv.issue(line, f"malformed section header {line!r}",
                      "write [group], [group:children] or [group:vars], with no spaces inside the brackets", lineno)
            state = "skip"
            continue
        if state == "skip":
            continue
        if state == "vars":
            key, eq, value = line.partition("=")
            if not eq:
                inv.issue(section, f"expected key=value in [{section}:vars], got {line!r}",
                          "write one variable per line as key=value", lineno)
                continue
            inv.group(section, lineno).vars[key.strip()] = Var(ini_value(value.strip()), f"{file}:{lineno}")
        elif state == "children":
            if (g := _GROUP_NAME.match(line)) is None:
                inv.issue(f"{section}:children", f"expected one group name per line, got {line!r}",
                          "list each child group on its own line", lineno)
                continue
            child = g.group(1)
            if child in inv.groups:
                inv.add_child(section, child)
            elif child in pending:
                pending[child]["parents"].append(section)
            else:
                pending[child] = {"line": lineno, "state": "children", "parents": [section]}
        else:
            _host_line(inv, section, line, lineno)
    for name, decl in pending.items():
        if decl["state"] == "vars":
            inv.issue(f"{name}:vars", f"section [{name}:vars] is for group {name!r}, which is never declared",
                      f"declare it with a [{name}] or [{name}:children] section (Ansible refuses this too)",
                      decl["line"])
        else:
            inv.issue(f"{decl['parents'][-1]}:children",
                      f"names group {name!r}, which is never declared",
                      f"declare it with a [{name}] or [{name}:children] section, or remove it "
                      "(Ansible refuses this inventory too)", decl["line"])


def _declare(inv: Inventory, group: str, pending: dict[str, dict[str, Any]]) -> None:
    decl = pending.pop(group)
    for parent in decl["parents"]:
        inv.add_child(parent, group)
        if parent in pending and pending[parent]["state"] == "children":
            _declare(inv, parent, pending)


def _host_line(inv: Inventory, section: str, line: str, lineno: int) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        inv.issue(section, f"cannot parse line: {exc}", "check the quotes on this line", lineno)
        return
    if not tokens:
        return
    hvars: dict[str, Var] = {}
    for tok in tokens[1:]:
        key, eq, value = tok.partition("=")
        if not eq:
            inv.issue(section, f"expected key=value, got {tok!r}", "write host variables as key=value", lineno)
            return
        hvars[key] = Var(ini_value(value), f"{inv.file}:{lineno}")
    names, port = _hosts_of(inv, tokens[0], f"{section}.{tokens[0]}", lineno)
    if port is not None and "ansible_port" not in hvars:
        hvars = {"ansible_port": Var(port, f"{inv.file}:{lineno}"), **hvars}
    for host in names:
        inv.add_host(section, host, hvars, lineno)


# --------------------------------------------------------------------------- YAML


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _value(node: yaml.Node) -> object:
    return yaml.constructor.SafeConstructor().construct_document(node)


def yaml_mapping(inv: Inventory, node: yaml.Node, where: str, origin_file: str) -> dict[str, Var]:
    """A mapping of variables, each with the file and line of its key."""
    if _is_null(node):
        return {}
    if not isinstance(node, yaml.MappingNode):
        inv.issue(where, "expected a mapping of variables", "write variables as key: value", _line(node), origin_file)
        return {}
    return {str(_value(k)): Var(_value(v), f"{origin_file}:{_line(k)}") for k, v in node.value}


def _as_mapping(node: yaml.Node) -> yaml.Node:
    """Ansible accepts a string where a mapping of names is expected (``hosts: web1``)."""
    if isinstance(node, yaml.ScalarNode) and not _is_null(node) and node.tag == "tag:yaml.org,2002:str":
        return yaml.MappingNode("tag:yaml.org,2002:map", [(node, yaml.ScalarNode("tag:yaml.org,2002:null", ""))],
                                node.start_mark, node.end_mark)
    return node


def _yaml_group(inv: Inventory, name: str, node: yaml.Node, trail: tuple[str, ...]) -> None:
    grp = inv.group(name, _line(node))
    if _is_null(node):
        return
    if not isinstance(node, yaml.MappingNode):
        inv.issue(".".join(trail), f"group {name!r} must be a mapping with hosts, children or vars",
                  "indent hosts:, children: and vars: under the group name", _line(node))
        return
    for key_node, raw_value in node.value:
        key = str(key_node.value)
        path = ".".join((*trail, key))
        value = _as_mapping(raw_value)
        if key not in ("hosts", "children", "vars"):
            inv.issue(path, f"unexpected key {key!r} in group {name!r}",
                      "a group holds only hosts:, children: and vars:", _line(key_node))
            continue
        if _is_null(value):
            continue
        if not isinstance(value, yaml.MappingNode):
            inv.issue(path, f"{key} must be a mapping of names (each followed by ':')",
                      f"write each entry as `name:` on its own line under {key}:", _line(value))
            continue
        if key == "vars":
            grp.vars.update(yaml_mapping(inv, value, path, inv.file))
        elif key == "children":
            for ckey, cval in value.value:
                child = str(ckey.value)
                _yaml_group(inv, child, cval, (*trail, key, child))
                inv.add_child(name, child)
        else:
            for hkey, hval in value.value:
                if not (isinstance(hkey, yaml.ScalarNode) and hkey.tag == "tag:yaml.org,2002:str"):
                    inv.issue(f"{path}.{hkey.value}", f"host pattern {hkey.value!r} must be a string",
                              "put quotes around numeric host names", _line(hkey))
                    continue
                hvars = yaml_mapping(inv, hval, f"{path}.{hkey.value}", inv.file)
                names, port = _hosts_of(inv, str(hkey.value), f"{path}.{hkey.value}", _line(hkey))
                if port is not None and "ansible_port" not in hvars:
                    hvars = {"ansible_port": Var(port, f"{inv.file}:{_line(hkey)}"), **hvars}
                for host in names:
                    inv.add_host(name, host, hvars, _line(hkey))


def compose(inv: Inventory, text: str) -> yaml.Node | None:
    """The YAML document's node tree, or None after reporting a syntax error."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        inv.issue("", f"YAML syntax error: {problem}", "fix the YAML syntax at that spot",
                  mark.line + 1 if mark is not None else None)
        return None
    except RecursionError:
        inv.issue("", "lists or mappings are nested too deep to read",
                  "no inventory needs more than a few levels: remove the extra brackets", None)
        return None


def parse_yaml(inv: Inventory, root: yaml.Node | None) -> None:
    """Read a composed YAML inventory into ``inv``."""
    if root is None or _is_null(root):
        return
    if not isinstance(root, yaml.MappingNode):
        inv.issue("", "an Ansible YAML inventory must be a mapping of groups (usually starting with all:)",
                  "start the file with `all:` followed by hosts: and children:", _line(root))
        return
    for key_node, value in root.value:
        if str(key_node.value) == "plugin":
            inv.issue("plugin", f"this is the configuration of the inventory plugin {value.value!r}, which only "
                      "Ansible can run", "set [inventory] ansible_inventory_command = true in the cockpit config",
                      _line(key_node))
            return
    for key_node, value in root.value:
        name = str(key_node.value)
        _yaml_group(inv, name, value, (name,))
