"""The cockpit's reading of Ansible inventories against ``ansible-inventory --list`` (ansible-core), host by host.

Shared by tests/test_ansible_oracle.py (any difference fails, naming case, host and field) and
bench/ansible_agreement.py (agreement counts for docs/ssh.md). The corpus lives in tests/data/ansible/.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cockpit.config import ansible_inventory_program, load_ansible
from cockpit.spec import HostSpec

CORPUS = Path(__file__).parent / "data" / "ansible"

#: case -> its sources (relative to CORPUS), given to both readers in this order
CASES: dict[str, tuple[str, ...]] = {
    "ini_basic": ("ini_basic/hosts.ini",),
    "ini_vars": ("ini_vars/hosts",),
    "yaml_children": ("yaml_children/inventory.yml",),
    "group_host_vars": ("gvars/hosts.ini",),
    "directory": ("directory/inventory",),
    "several_sources": ("multi/a/hosts.ini", "multi/b/hosts.yml"),
    "proxy": ("proxy/hosts.ini",),
    "connection": ("connection/hosts.yml",),
    "kubespray_layout": ("kubespray/inventory.ini",),
}
#: what only Ansible can read: the cockpit reads them through ansible_inventory_command
COMMAND_ONLY: dict[str, tuple[str, ...]] = {
    "script": ("script/inventory.py",),
    "constructed": ("constructed/hosts.ini", "constructed/constructed.yml"),
}
#: Ansible refuses these (and so does the cockpit): case -> (source, Ansible's words, the cockpit's line)
REFUSED: dict[str, tuple[str, str, int]] = {
    "undefined_child": ("refused/undefined_child.ini", "includes undefined group 'dbservers'", 6),
    "undefined_vars_group": ("refused/undefined_vars_group.ini", "not valid for undefined group 'dbs'", 4),
}

FIELDS = ("groups", "address", "port", "user", "identity_file", "proxy_jump", "proxy_command")
#: the ssh connection plugin reads each option from these variables, the last one set winning
_VARS = {"address": ("ansible_host", "ansible_ssh_host"), "port": ("ansible_port", "ansible_ssh_port"),
         "user": ("ansible_user", "ansible_ssh_user"),
         "identity_file": ("ansible_private_key_file", "ansible_ssh_private_key_file")}
_ARGS = ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")

View = dict[str, dict[str, object]]


@dataclass(frozen=True)
class Difference:
    case: str
    host: str
    field: str
    cockpit: object
    ansible: object

    def __str__(self) -> str:
        return f"{self.case}: host {self.host}: {self.field}: cockpit {self.cockpit!r}, ansible {self.ansible!r}"


def sources(case: tuple[str, ...]) -> list[str]:
    return [str(CORPUS / s) for s in case]


def run_ansible_inventory(srcs: list[str]) -> subprocess.CompletedProcess[str]:
    program = ansible_inventory_program()
    assert program is not None, "ansible-core is not installed (pip install -e '.[test]')"
    argv = [program, *(a for s in srcs for a in ("-i", s)), "--list"]
    env = {**os.environ, "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)


def ansible_view(srcs: list[str]) -> View:
    """Every host as Ansible resolves it: groups through children, and the ssh plugin's connection fields."""
    done = run_ansible_inventory(srcs)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    parents: dict[str, set[str]] = {}
    direct: dict[str, set[str]] = {}
    for group, body in data.items():
        if group == "_meta":
            continue
        for child in body.get("children", []):
            parents.setdefault(child, set()).add(group)
        for host in body.get("hosts", []):
            direct.setdefault(host, set()).add(group)
    view: View = {}
    for host in sorted(set(direct) | set(hostvars)):
        groups, todo = set(), list(direct.get(host, ()))
        while todo:
            g = todo.pop()
            if g not in groups:
                groups.add(g)
                todo.extend(parents.get(g, ()))
        hv = hostvars.get(host, {})
        row: dict[str, object] = {"groups": tuple(sorted(groups - {"all", "ungrouped"}))}
        for field, names in _VARS.items():
            set_ = [hv[n] for n in names if hv.get(n) is not None]
            row[field] = str(set_[-1]) if set_ else None
        if row["address"] is None:
            row["address"] = host
        if row["identity_file"] is not None:
            row["identity_file"] = os.path.expanduser(str(row["identity_file"]))
        row["proxy_jump"], row["proxy_command"] = ssh_proxy(tuple(str(hv[n]) for n in _ARGS if hv.get(n)))
        if hv.get("ansible_connection") in ("local", "ansible.builtin.local"):
            row["address"] = row["port"] = row["user"] = None  # not used for a local connection
        view[host] = row
    return view


@cache  # hosts of a group share their ssh arguments
def ssh_proxy(args: tuple[str, ...]) -> tuple[str | None, str | None]:
    """What OpenSSH itself makes of these arguments: ``ssh -G`` prints the proxyjump/proxycommand it would use."""
    argv = ["ssh", "-G", "-F", "/dev/null", *(t for a in args for t in shlex.split(a)), "oracle.invalid"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, "HOME": "/nonexistent"})
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    found = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    jump, command = found.get("proxyjump"), found.get("proxycommand")
    return (None if jump in (None, "none") else jump), (None if command in (None, "none") else command)


def cockpit_view(hosts: list[HostSpec]) -> View:
    view: View = {}
    for h in hosts:
        local = h.transport == "local"
        view[h.name] = {
            "groups": tuple(sorted(h.tags)),
            "address": None if local else h.address,
            "port": None if local or h.port is None else str(h.port),
            "user": None if local else h.user,
            "identity_file": h.identity_file,
            "proxy_jump": None if h.proxy_jump == "none" else h.proxy_jump,
            "proxy_command": h.proxy_command,
        }
    return view


def compare(case: str, ours: View, theirs: View) -> tuple[int, list[Difference]]:
    """(fields that agree, differences); a host only one side knows is a difference on every field."""
    agree, diffs = 0, []
    for host in sorted(set(ours) | set(theirs)):
        if host not in ours or host not in theirs:
            diffs.append(Difference(case, host, "present", host in ours, host in theirs))
            continue
        for field in FIELDS:
            if ours[host][field] == theirs[host][field]:
                agree += 1
            else:
                diffs.append(Difference(case, host, field, ours[host][field], theirs[host][field]))
    return agree, diffs


def check_case(case: str, srcs: list[str], *, command: bool = False) -> tuple[int, int, list[Difference]]:
    """(hosts, fields that agree, differences) of one case."""
    theirs = ansible_view(srcs)
    ours = cockpit_view(load_ansible(srcs, command=command))
    agree, diffs = compare(case, ours, theirs)
    return len(theirs), agree, diffs
