"""[actions] in the config, and placeholder substitution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.engine import render_command
from cockpit.config import load_config
from cockpit.errors import ConfigError, PlaceholderError
from cockpit.spec import HostSpec

BASE = """
[hosts.csb1]
address = "cs1.example.net"
user = "ops"
port = 2222
[hosts.gpc0]
tags = ["nixos"]
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text(BASE + text)
    return load_config(path, env={})


def test_actions_load(tmp_path: Path) -> None:
    cfg = load(tmp_path, """
[actions.restart-proxy]
key = "t"
title = "Restart reverse proxy"
on = ["csb1"]
run = "docker compose -f ~/docker/docker-compose.yml restart traefik"
confirm = true

[actions.rebuild]
key = "ctrl+b"
on = ["tag:nixos"]
run = "nixos-rebuild switch --flake .#{host}"
timeout = "0"
""")
    a, b = cfg.actions
    assert (a.name, a.key, a.title, a.on, a.confirm, a.timeout) == ("restart-proxy", "t", "Restart reverse proxy", ("csb1",), True, 1800.0)
    assert (b.title, b.timeout, b.confirm) == ("rebuild", None, False)


@pytest.mark.parametrize("body, message", [
    ('key = "p"\non = ["csb1"]\nrun = "true"', "key 'p' is taken by the built-in key 'Probe'"),
    ('key = "t"\non = ["csb1"]\nrun = "echo {hots}"', "unknown placeholder {hots}"),
    ('key = "t"\non = ["csb1"]', "an action needs a command to run"),
    ('key = "t"\non = ["nope"]\nrun = "true"', "no host named 'nope'"),
    ('key = "t"\nrun = "true"', "an action needs the hosts it runs on"),
    ('key = "two words"\non = ["csb1"]\nrun = "true"', "is not a key the cockpit can bind"),
    ('key = "t"\non = ["csb1"]\nrun = "true"\nconfrim = true', "confrim"),
])
def test_bad_actions(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, "[actions.a]\n" + body + "\n")
    text = str(err.value)
    assert message in text and "c.toml:" in text and "actions.a" in text


def test_duplicate_action_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key 't' is claimed twice: by \[actions.a\]"):
        load(tmp_path, '[actions.a]\nkey="t"\non=["csb1"]\nrun="true"\n[actions.b]\nkey="t"\non=["csb1"]\nrun="true"\n')


def test_placeholders_are_substituted_and_unsafe_values_refused() -> None:
    host = HostSpec(name="web1", address="10.0.0.5", user="ops", port=2222)
    out = render_command("echo {host} {address} {user} {port} {{literal}} ${HOME}", host)
    assert out == "echo web1 10.0.0.5 ops 2222 {literal} ${HOME}"
    res = subprocess.run(["sh", "-c", out.replace("${HOME}", "")], capture_output=True, text=True)
    assert res.stdout == "web1 10.0.0.5 ops 2222 {literal}\n"
    with pytest.raises(PlaceholderError, match="holds ';'"):
        render_command("echo {host}", HostSpec(name="web; rm -rf /", address="10.0.0.5"))