"""Ansible inventories into hosts, groups becoming tags, so ``tag:webservers`` works on them.

Sources are read as ansible-core reads them: a file (INI, YAML or a ``host1,host2`` list), a directory
of them, several of them merged in order, with ``group_vars/`` and ``host_vars/`` beside each source
applied with Ansible's variable precedence. With ``ansible_inventory_command`` Ansible itself is the
parser (``ansible-inventory --list``), for what only Ansible can read: plugins, scripts, constructed.

Only the connection variables are honoured (docs/config.md lists them); everything else in an
inventory is for Ansible and is ignored.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cockpit.config.ansible_formats import (
    compose,
    parse_ini,
    parse_yaml,
    split_host_pattern,
    yaml_mapping,
)
from cockpit.config.ansible_model import Inventory, Var
from cockpit.errors import ConfigError
from cockpit.sanitize import strip_control
from cockpit.spec import HostSpec

__all__ = ["DEFAULT_COMMAND_TIMEOUT", "INSTALL_HINT", "ansible_inventory_program", "load_ansible"]

DEFAULT_COMMAND_TIMEOUT = 60.0
INSTALL_HINT = ("install Ansible where the cockpit runs (pip install ansible-core, pipx install ansible-core "
                "or apt-get install ansible), or set [inventory] ansible_inventory_command = false")

#: what Ansible skips in an inventory directory (inventory/manager.py IGNORED, INVENTORY_IGNORE_EXTS)
_IGNORED = re.compile(r"^\.|^host_vars$|^group_vars$|^vars_plugins$|"
                      r"(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.cfg|\.retry)$")
_YAML_EXTS = ("", ".yml", ".yaml", ".json")


def load_ansible(sources: Path | str | Sequence[Path | str], *, command: bool = False,
                 timeout: float = DEFAULT_COMMAND_TIMEOUT) -> list[HostSpec]:
    """Read Ansible inventory sources into hosts, in the order they first appear.

    Args:
        sources: files, directories or ``a,b,`` host lists, merged in order as ``-i`` sources are.
        command: run ``ansible-inventory -i SRC... --list`` and read its JSON instead.
        timeout: deadline of that command, in seconds.

    Raises:
        ConfigError: an unreadable or malformed inventory, with file and line.
    """
    srcs = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if command:
        inv = _from_command([str(s) for s in srcs], timeout)
        specs = inv.to_specs(None) if not inv.issues else []
    else:
        inv = Inventory(str(srcs[0]) if srcs else "")
        for src in srcs:
            _read_source(inv, src, top=True)
        vars_dirs = _VarsDirs(inv, [Path(s) for s in srcs if not _is_host_list(s)])
        specs = inv.to_specs(vars_dirs.lookup) if not inv.issues else []
    if inv.issues:
        raise ConfigError(inv.issues)
    return specs


def _is_host_list(src: Path | str) -> bool:
    return "," in str(src) and not Path(src).exists()


def _read_source(inv: Inventory, src: Path | str, *, top: bool) -> None:
    if _is_host_list(src):  # Ansible's host_list plugin: "web1,web2:2222,"
        inv.file = f"-i {src}"
        for item in (h.strip() for h in str(src).split(",")):
            if item:
                name, port = split_host_pattern(item)
                inv.add_host("ungrouped", name, {"ansible_port": Var(port, inv.file)} if port else {}, None)
        return
    path = Path(src)
    inv.file = str(path)
    if path.is_dir():
        for entry in sorted(os.listdir(path)):
            if not _IGNORED.search(entry):
                _read_source(inv, path / entry, top=False)
        return
    problem = _unreadable(path, top)
    if problem is not None:
        inv.issue("", *problem, None)
        return
    if os.access(path, os.X_OK):
        inv.issue("", "the inventory file is executable: Ansible runs it as a dynamic inventory script",
                  "set [inventory] ansible_inventory_command = true so that Ansible runs it, or chmod -x it "
                  "if it is a plain inventory", None)
        return
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        inv.issue("", "TOML inventories are read by Ansible only",
                  "set [inventory] ansible_inventory_command = true, or convert it to INI or YAML", None)
        return
    if suffix in _YAML_EXTS:
        scratch = Inventory(str(path))
        root = compose(scratch, text)
        is_mapping = root is not None and root.id == "mapping"
        if suffix != "" or is_mapping:
            if scratch.issues:
                inv.issues.extend(scratch.issues)
            else:
                parse_yaml(inv, root)
            return
    parse_ini(inv, text)


def _unreadable(path: Path, top: bool) -> tuple[str, str] | None:
    """Why an inventory file cannot be read (message, fix), or None."""
    try:
        path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return "inventory file does not exist", ("check [inventory] ansible (relative to the config file)"
                                                 if top else "")
    except UnicodeDecodeError as exc:
        return f"inventory is not UTF-8 text ({exc.reason})", "save the inventory as UTF-8"
    except OSError as exc:
        return f"cannot read inventory: {exc.strerror or exc}", "check the file's permissions"
    return None


# --------------------------------------------------------------------------- group_vars/ and host_vars/


class _VarsDirs:
    """``group_vars/NAME`` and ``host_vars/NAME`` beside each source, found as Ansible's host_group_vars does.

    NAME, NAME.yml, NAME.yaml or NAME.json (the first that exists); a directory NAME/ holds files read in
    name order, later ones overriding earlier ones.
    """

    def __init__(self, inv: Inventory, sources: list[Path]) -> None:
        self.inv = inv
        self.bases = [(s if s.is_dir() else s.parent).resolve() for s in sources]
        self.cache: dict[Path, dict[str, Var]] = {}
        self.found: dict[tuple[str, str], list[dict[str, Var]]] = {}  # a group is asked once per host in it
        self.listings: dict[Path, frozenset[str]] = {}

    def lookup(self, kind: str, name: str) -> list[dict[str, Var]]:
        if (kind, name) not in self.found:
            self.found[kind, name] = self._lookup(kind, name)
        return self.found[kind, name]

    def _lookup(self, kind: str, name: str) -> list[dict[str, Var]]:
        if name.startswith(os.sep):
            return []
        layers = []
        for base in self.bases:
            merged: dict[str, Var] = {}
            for file in self._vars_files(base / f"{kind}_vars", name):
                merged.update(self._load(file))
            layers.append(merged)  # one per source, even empty: group_vars are merged source by source
        return layers

    def _vars_files(self, folder: Path, name: str) -> list[Path]:
        """NAME, NAME.yml, NAME.yaml or NAME.json in ``folder``: the first that exists (a folder: its files)."""
        if folder not in self.listings:  # one listing per folder, not four stats per host
            try:
                self.listings[folder] = frozenset(os.listdir(folder))
            except OSError:
                self.listings[folder] = frozenset()
        for ext in _YAML_EXTS:
            if f"{name}{ext}" in self.listings[folder]:
                path = folder / f"{name}{ext}"
                return _dir_files(path) if path.is_dir() else [path]
        return []

    def _load(self, file: Path) -> dict[str, Var]:
        if file in self.cache:
            return self.cache[file]
        self.cache[file] = {}
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self.inv.issue("", f"cannot read variables file: {exc}", "check the file (UTF-8 YAML or JSON)",
                           None, str(file))
            return {}
        if text.lstrip().startswith("$ANSIBLE_VAULT"):
            self.inv.issue("", "the variables file is encrypted with ansible-vault, which the cockpit cannot read",
                           "set [inventory] ansible_inventory_command = true (with the vault password in "
                           "Ansible's config), or keep connection variables out of vaulted files", None, str(file))
            return {}
        scratch = Inventory(str(file))
        root = compose(scratch, text)
        if root is not None and not (root.id == "scalar" and root.tag.endswith(":null")):
            if root.id != "mapping":
                scratch.issue("", "a variables file must hold a mapping (key: value)",
                              "write one variable per line as key: value", root.start_mark.line + 1)
            else:
                self.cache[file] = yaml_mapping(scratch, root, "", str(file))
        self.inv.issues.extend(scratch.issues)
        return self.cache[file]




def _dir_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(os.listdir(folder)):
        if entry.startswith(".") or entry.endswith("~"):
            continue
        path, ext = folder / entry, os.path.splitext(entry)[1]
        if path.is_dir() and not ext:
            found.extend(_dir_files(path))
        elif path.is_file() and ext in _YAML_EXTS:
            found.append(path)
    return found


# --------------------------------------------------------------------------- ansible-inventory --list


def ansible_inventory_program() -> str | None:
    """``ansible-inventory`` on PATH, else beside this Python (a virtualenv that has ansible-core)."""
    found = shutil.which("ansible-inventory")
    if found is None:
        sibling = Path(sys.executable).parent / "ansible-inventory"
        found = str(sibling) if sibling.is_file() and os.access(sibling, os.X_OK) else None
    return found


def _from_command(sources: list[str], timeout: float) -> Inventory:
    where = " ".join(f"-i {s}" for s in sources)
    inv = Inventory(f"ansible-inventory {where}")
    program = ansible_inventory_program()
    if program is None:
        inv.issue("", "[inventory] ansible_inventory_command is on, but ansible-inventory is not installed",
                  INSTALL_HINT, None)
        return inv
    argv = [program, *(arg for s in sources for arg in ("-i", s)), "--list"]
    env = {**os.environ, "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1", "ANSIBLE_NOCOLOR": "1"}
    try:  # its own session, so that a deadline stops the scripts and plugins it started as well
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
    except OSError as exc:
        inv.issue("", f"cannot run {program}: {exc.strerror or exc}", INSTALL_HINT, None)
        return inv
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        inv.issue("", f"ansible-inventory did not finish within {timeout:g}s",
                  "raise [inventory] ansible_inventory_timeout, or check what the inventory's plugins wait for",
                  None)
        return inv
    done = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if done.returncode != 0:
        said = strip_control(done.stderr.decode("utf-8", "replace")).strip().splitlines()[-6:]
        inv.issue("", f"ansible-inventory failed (exit {done.returncode}): " + " / ".join(said),
                  "fix the inventory so that `ansible-inventory " + where + " --list` succeeds", None)
        return inv
    try:
        data = json.loads(done.stdout)
    except ValueError as exc:
        inv.issue("", f"ansible-inventory printed no JSON ({exc})", "run it by hand to see why", None)
        return inv
    origin, inv.file = inv.file, sources[0] if sources else inv.file  # hosts name a source, so edits to it are seen
    _read_listing(inv, data, origin)
    return inv


def _read_listing(inv: Inventory, data: Any, origin: str) -> None:
    """``ansible-inventory --list`` JSON: groups with hosts and children; ``_meta.hostvars`` already merged."""
    if not isinstance(data, dict):
        inv.issue("", "ansible-inventory's JSON is not a mapping of groups", "run it by hand to see why", None)
        return
    hostvars = data.get("_meta", {}).get("hostvars", {}) if isinstance(data.get("_meta"), dict) else {}
    for name, body in data.items():
        if name == "_meta" or not isinstance(body, dict):
            continue
        inv.group(name, None)
        for child in body.get("children", []) or []:
            inv.group(str(child), None)
            inv.add_child(name, str(child))
        for host in body.get("hosts", []) or []:
            inv.add_host(name, str(host), {}, None)
    for host, hv in hostvars.items():
        if isinstance(hv, dict):
            inv.add_host(None, str(host), {str(k): Var(v, origin) for k, v in hv.items()}, None)
