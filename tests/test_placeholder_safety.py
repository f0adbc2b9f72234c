"""Issue 14, finding 1: a host name, address or user cannot inject a command through a placeholder.

``shlex.quote`` is only safe unquoted; in ``'...'``, ``"..."``, backticks or ``$()`` a quoted
value can still break out. So every value that reaches a placeholder, from TOML or an Ansible
inventory (INI or YAML), must be ``[A-Za-z0-9._-]`` or an IP literal: refused at load with the
value's file, line and character, and refused again at run time for a command typed in the cockpit.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from cockpitcfg import fleet_toml

from cockpit.config import load_config
from cockpit.engine import Engine, render_command
from cockpit.errors import ConfigError, PlaceholderError
from cockpit.spec import HostSpec

CONTEXTS = {
    "unquoted": "echo {host}",
    "single": "echo '{host}'",
    "double": 'echo "{host}"',
    "backticks": "echo `echo {host}`",
    "dollar-paren": "echo $(echo {host})",
}
HOSTILE = ["i1$(touch${IFS}PWNED)", "i2`touch${IFS}PWNED`", "i3';touch${IFS}PWNED;'", 'i4";touch${IFS}PWNED;"']


def _toml_action(run: str) -> str:
    return f'[actions.a]\nkey = "t"\non = ["all"]\nrun = {json.dumps(run)}\n'


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("name", HOSTILE)
def test_toml_host_name_reaching_a_placeholder_is_refused(tmp_path: Path, context: str, name: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[hosts.{json.dumps(name)}]\naddress = "10.0.0.1"\n\n' + _toml_action(CONTEXTS[context]))
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    text = str(err.value)
    bad = next(c for c in name if not (c.isalnum() or c in "._-"))
    assert f"{str(path)}:1" in text and repr(bad) in text and "actions.a.run" in text, text


@pytest.mark.parametrize("fmt", ["ini", "yaml"])
def test_ansible_inventory_names_reaching_a_placeholder_are_refused(tmp_path: Path, fmt: str) -> None:
    name = "web1$(touch${IFS}PWNED)"
    if fmt == "ini":
        inv = tmp_path / "hosts.ini"
        inv.write_text(f"[web]\nok1 ansible_host=10.0.0.1\n{name} ansible_host=10.0.0.2\n")
        line = 3
    else:
        inv = tmp_path / "hosts.yml"
        inv.write_text(f"all:\n  hosts:\n    ok1:\n      ansible_host: 10.0.0.1\n    '{name}':\n"
                       "      ansible_host: 10.0.0.2\n")
        line = 5
    path = tmp_path / "c.toml"
    path.write_text(f'[inventory]\nansible = "{inv.name}"\n\n' + _toml_action("echo '{host}'"))
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    text = str(err.value)
    assert f"{inv}:{line}" in text and "'$'" in text and "web1" in text, text
    assert "ok1" not in text


def test_unsafe_user_and_address_reaching_placeholders_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[hosts.web1]\naddress = "a;b"\nuser = "o\'ps"\n\n' + _toml_action('echo "{address}" {user}'))
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    text = str(err.value)
    assert "address of host 'web1' holds ';'" in text and "user of host 'web1' holds \"'\"" in text, text


def test_a_hostile_name_no_command_uses_is_not_refused(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("[web]\nweb1$(x) ansible_host=10.0.0.2\nweb2 ansible_host=10.0.0.3\n")
    path = tmp_path / "c.toml"
    path.write_text('[inventory]\nansible = "hosts.ini"\n\n[actions.a]\nkey = "t"\non = ["web2"]\nrun = "echo {host}"\n')
    assert [h.name for h in load_config(path, env={}).hosts] == ["web1$(x)", "web2"]


def test_ip_literals_and_safe_names_pass_unchanged() -> None:
    host = HostSpec(name="web_1.eu-west", address="fe80::1", user="ops", port=2222)
    assert render_command("x {host} '{address}' \"{user}\" {port} {{b}}", host) == \
        "x web_1.eu-west 'fe80::1' \"ops\" 2222 {b}"


@pytest.mark.parametrize("context", CONTEXTS)
async def test_typed_command_with_a_hostile_name_runs_nothing_on_the_host(  # type: ignore[no-untyped-def]
        fleet, tmp_path: Path, context: str) -> None:
    """A command typed in the cockpit (``!``) is not checked at load: the runner refuses it."""
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(spool, 0o777)
    hostile = f"i1$(touch${{IFS}}{spool}/PWNED)`touch${{IFS}}{spool}/PWNED2`';touch${{IFS}}{spool}/PWNED3;'"
    text = fleet_toml(fleet, hosts=["h1"]).replace("[hosts.h1]", f"[hosts.{json.dumps(hostile)}]")
    path = tmp_path / "c.toml"
    path.write_text(text)
    async with Engine(load_config(path)) as engine:
        with pytest.raises(PlaceholderError, match="not safe in a shell command"):
            await engine.actions.start("adhoc", CONTEXTS[context], [hostile], kind="adhoc")
        run = await engine.actions.run("adhoc", "cd / && " + CONTEXTS[context].replace("{host}", "x"), [hostile])
        assert run.runs[0].state == "ok", run.runs[0]  # the host is reachable: only the placeholder was refused
    await asyncio.sleep(0.2)
    assert sorted(p.name for p in spool.iterdir()) == []


@pytest.mark.parametrize("context", CONTEXTS)
async def test_safe_names_mean_the_same_in_every_quoting_context(  # type: ignore[no-untyped-def]
        fleet, tmp_path: Path, context: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(fleet_toml(fleet, hosts=["h1"]).replace("[hosts.h1]", "[hosts.\"web_1-a.b\"]"))
    async with Engine(load_config(path)) as engine:
        run = await engine.actions.run("t", CONTEXTS[context], ["web_1-a.b"])
    assert run.runs[0].state == "ok" and run.runs[0].output.strip() == "web_1-a.b", run.runs[0]
