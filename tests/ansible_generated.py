"""A generated inventory directory (fixed seed): many INI and YAML files with the syntax variations real ones use.

One ``ansible-inventory`` run reads the whole directory, so a few hundred hosts of varied syntax cost one
Ansible start-up. Used by tests/test_ansible_oracle.py.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

_SPACES = ("", " ", "  ")


def _quote(rng: random.Random, text: str) -> str:
    return rng.choice((text, f"'{text}'", f'"{text}"'))


def _ini_var(rng: random.Random, key: str, value: str, *, in_vars: bool) -> str:
    if in_vars:  # everything after the first '=' is the value: spaces around '=', a literal's comment
        sp = rng.choice(_SPACES)
        tail = rng.choice(("", "", f"{rng.choice(_SPACES)} # note")) if key == "ansible_port" else ""
        return f"{key}{sp}={rng.choice(_SPACES)}{_quote(rng, value) if key != 'ansible_port' else value}{tail}"
    return f"{key}={_quote(rng, value) if ' ' not in value else repr(value)}"  # host lines split at blanks


def _conn_vars(rng: random.Random, i: int, n: int) -> list[tuple[str, str]]:
    out = []
    if rng.random() < 0.4:
        out.append((rng.choice(("ansible_host", "ansible_ssh_host")), f"10.{i}.{n}.{rng.randint(1, 254)}"))
    if rng.random() < 0.4:
        out.append((rng.choice(("ansible_port", "ansible_ssh_port")), str(rng.randint(1, 65535))))
    if rng.random() < 0.4:
        out.append((rng.choice(("ansible_user", "ansible_ssh_user")), f"user{i}-{n}"))
    if rng.random() < 0.2:
        out.append(("ansible_ssh_private_key_file", f"/keys/k{i}-{n}"))
    if rng.random() < 0.1:
        out.append(("ansible_ssh_common_args", f"-o ProxyJump=jump{i}.example.net"))
    return out


def _host_pattern(rng: random.Random, i: int, n: int) -> str:
    kind = rng.random()
    if kind < 0.15:
        return f"h{i}n{n}-[01:{rng.randint(2, 12):02d}]"
    if kind < 0.25:
        return f"h{i}n{n}-[a:{rng.choice('bcdef')}]"
    if kind < 0.3:
        return f"h{i}n{n}-[0:{rng.randint(4, 20)}:{rng.randint(2, 4)}]"
    return f"h{i}n{n}.example.net"


def _ini(rng: random.Random, i: int) -> str:
    groups = [f"g{i}x{k}" for k in range(rng.randint(2, 4))]
    lines = [f"# generated inventory {i}", rng.choice(("", "; a semicolon comment"))]
    for n in range(rng.randint(0, 2)):  # ungrouped hosts before any section
        lines.append(" ".join([f"h{i}u{n}", *(_ini_var(rng, k, v, in_vars=False) for k, v in _conn_vars(rng, i, n))]))
    n = 10
    for g in groups:
        lines.append(f"[{g}]" + rng.choice(("", "  # a comment after a header")))
        for _ in range(rng.randint(1, 4)):
            n += 1
            pattern = _host_pattern(rng, i, n)
            if rng.random() < 0.15 and "[" not in pattern:
                pattern += f":{rng.randint(1000, 9999)}"
            words = [pattern, *(_ini_var(rng, k, v, in_vars=False) for k, v in _conn_vars(rng, i, n))]
            lines.append(" ".join(words) + rng.choice(("", "", "   # trailing comment")))
    for parent, child in itertools.pairwise(groups):
        if rng.random() < 0.6:
            lines += [f"[{parent}:children]", child + rng.choice(("", " # child"))]
    for g in [*groups, "all"]:
        if rng.random() < 0.5:
            lines.append(f"[{g}:vars]")
            lines += [_ini_var(rng, k, v, in_vars=True) for k, v in _conn_vars(rng, i, 99)]
            lines.append("description = a value with spaces, {braces} and = signs # and this stays")
    return "\n".join(lines) + "\n"


def _yaml(rng: random.Random, i: int) -> str:
    def group(name: str, depth: int, n0: int) -> dict[str, object]:
        body: dict[str, object] = {}
        hosts = {}
        for n in range(n0, n0 + rng.randint(0, 3)):
            hosts[_host_pattern(rng, i, n)] = dict(_conn_vars(rng, i, n)) or None
        if hosts:
            body["hosts"] = hosts
        if depth < 2 and rng.random() < 0.7:
            body["children"] = {f"{name}c{k}": group(f"{name}c{k}", depth + 1, n0 + 10 * (k + 1))
                                for k in range(rng.randint(1, 2))}
        if rng.random() < 0.5:
            body["vars"] = dict(_conn_vars(rng, i, 98))
        return body

    return json.dumps({"all": {"children": {f"y{i}": group(f"y{i}", 0, 100)}}}, indent=1) + "\n"


def write_generated(root: Path, files: int = 24, seed: int = 21) -> Path:
    """The directory ``root/inventory`` with ``files`` inventories and a few group_vars/host_vars files."""
    rng = random.Random(seed)
    inv = root / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    for i in range(files):
        if i % 3 == 2:
            (inv / f"{i:02d}-inv.yml").write_text(_yaml(rng, i))
        else:
            (inv / f"{i:02d}-inv.ini").write_text(_ini(rng, i))
        if rng.random() < 0.5:
            vars_ = "\n".join(f"{k}: {v!r}" for k, v in _conn_vars(rng, i, 77)) or "{}"
            (inv / "group_vars" / (f"g{i}x0.yml" if i % 3 != 2 else f"y{i}")).write_text(vars_ + "\n")
        if rng.random() < 0.3:
            (inv / "host_vars" / f"h{i}n11.example.net.yaml").write_text(f"ansible_user: hv{i}\n")
    return inv
