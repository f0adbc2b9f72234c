"""The ssh_config on a real loopback fleet: parsed once, missing keys skipped, errors name the real address.

Each test writes an ssh_config naming the fleet's sshd hosts by aliases and runs real rounds through the
engine; what is asserted is what an operator sees (the host reachable or not, the error's words).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncssh.config

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.transports import sshconfig

ROOT = Path(__file__).resolve().parent.parent


def alias_block(fleet, name: str, alias: str, key: str | None = None) -> str:  # type: ignore[no-untyped-def]
    h = fleet[name]
    return (f"Host {alias}   # {name} of the test fleet\n  HostName {h.address}\n  Port {h.port}\n"
            f"  User {fleet.user}\n  IdentityFile {key or fleet.client_key}\n")


def cockpit_toml(tmp_path: Path, fleet, hosts: dict[str, str], ssh_config: Path) -> Path:  # type: ignore[no-untyped-def]
    text = (f'[cockpit]\ntitle = "ssh_config"\n[ssh]\nconfig = "{ssh_config}"\nknown_hosts = "{fleet.known_hosts}"\n'
            'connect_timeout = "3s"\n')
    for name, alias in hosts.items():
        text += f'[hosts.{name}]\naddress = "{alias}"\n'
    text += '[services.who]\non = ["all"]\ncommand = "echo $COCKPIT_TEST_HOST"\n'
    path = tmp_path / "cockpit.toml"
    path.write_text(text)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_ssh_config_is_parsed_once_for_the_whole_fleet(fleet, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "h3.conf").write_text(alias_block(fleet, "h3", "web3"))
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(alias_block(fleet, "h1", "web1") + alias_block(fleet, "h2", "web2")
                          + f"Host *\n  Include {tmp_path}/conf.d/*.conf\n")
    asyncssh_parses = []
    original = asyncssh.config.SSHConfig.parse

    def counting(self, path):  # type: ignore[no-untyped-def]
        asyncssh_parses.append(path)
        return original(self, path)

    monkeypatch.setattr(asyncssh.config.SSHConfig, "parse", counting)
    before = sshconfig.parse_count()
    config = load_config(cockpit_toml(tmp_path, fleet, {"a": "web1", "b": "web2", "c": "web3"}, ssh_config))
    async with Engine(config) as engine:
        for _ in range(2):
            snap = await engine.run_round()
            for name, real in (("a", "h1"), ("b", "h2"), ("c", "h3")):
                assert snap.host(name).reach == "ok", snap.host(name).error
                assert [(r.status, r.detail) for r in snap.host(name).results] == [("up", real)]
    assert sshconfig.parse_count() - before == 2  # the file and its one Include, once, for 3 hosts and 2 rounds
    assert asyncssh_parses == []  # asyncssh reads no ssh_config any more
    parsed = sshconfig.load_ssh_config(ssh_config)
    assert sshconfig.parse_count() - before == 2
    (tmp_path / "conf.d" / "h3.conf").write_text(alias_block(fleet, "h3", "web3") + "  Port 1\n")
    assert sshconfig.load_ssh_config(ssh_config) is not parsed  # an included file changed: read again, once
    assert sshconfig.load_ssh_config(ssh_config) is sshconfig.load_ssh_config(ssh_config)
    assert sshconfig.parse_count() - before == 4
    (tmp_path / "conf.d" / "new.conf").write_text("Host nothing\n  Port 2\n")
    sshconfig.load_ssh_config(ssh_config)  # a new file matching the Include glob is a change too
    assert sshconfig.parse_count() - before == 7


async def test_a_missing_identity_file_is_skipped_as_openssh_does(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host web1\n  IdentityFile {tmp_path}/absent_key\n" + alias_block(fleet, "h1", "web1"))
    config = load_config(cockpit_toml(tmp_path, fleet, {"a": "web1"}, ssh_config))
    assert any("absent_key" in n and "skipped" in n for n in config.notes), config.notes
    async with Engine(config) as engine:
        snap = await engine.run_round()
    assert snap.host("a").reach == "ok", snap.host("a").error


async def test_errors_name_the_resolved_address_and_port(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host closed-alias\n  HostName 127.0.0.1\n  Port {port}\n  User {fleet.user}\n")
    async with Engine(load_config(cockpit_toml(tmp_path, fleet, {"a": "closed-alias"}, ssh_config))) as engine:
        snap = await engine.run_round()
    error = snap.host("a").error
    assert f"127.0.0.1:{port}" in error and "closed-alias" not in error and ":22" not in error, error


async def test_proxyjump_goes_through_the_jump_host_resolved_from_the_same_file(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dead = free_port()
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(alias_block(fleet, "h1", "bastion") + alias_block(fleet, "h2", "inner")
                          + "  ProxyJump bastion\n"
                          + alias_block(fleet, "h3", "inner-dead-jump") + "  ProxyJump dead-bastion\n"
                          + f"Host dead-bastion\n  HostName 127.0.0.1\n  Port {dead}\n")
    config = load_config(cockpit_toml(tmp_path, fleet, {"a": "inner", "b": "inner-dead-jump"}, ssh_config))
    async with Engine(config) as engine:
        snap = await engine.run_round()
    assert snap.host("a").reach == "ok", snap.host("a").error
    assert [(r.status, r.detail) for r in snap.host("a").results] == [("up", "h2")]
    error = snap.host("b").error  # h3 itself is up: only the jump host can have failed
    assert snap.host("b").reach != "ok" and "dead-bastion" in error and f"127.0.0.1:{dead}" in error, error


def validate(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "cockpit", "validate", str(path), *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_validate_refuses_an_ssh_config_openssh_would_refuse(tmp_path: Path) -> None:
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text('Host pi\n  Port 22x\nHost web\n  HostName "unclosed\n')
    toml = tmp_path / "cockpit.toml"
    toml.write_text(f'[ssh]\nconfig = "{ssh_config}"\n[hosts.pi]\n')
    result = validate(toml)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{ssh_config}:2: ssh_config: bad port '22x'" in result.stderr
    assert f"{ssh_config}:4: ssh_config: invalid quotes" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_shows_each_connection_with_origins(tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    key.write_text("not a real key\n")
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host r2d5 # the test droid\n  HostName 10.20.30.41\n  Port 9019\n"
                          f"  IdentityFile {tmp_path}/absent\n  IdentityFile {key}\n  ProxyJump ops@jump:2222\n"
                          "UseKeychain yes\n")
    toml = tmp_path / "cockpit.toml"
    toml.write_text(f'[ssh]\nconfig = "{ssh_config}"\n[hosts.r2d5]\nuser = "pilot"\n')
    result = validate(toml)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    rows = [line.split() for line in out.splitlines()]
    assert ["r2d5", "10.20.30.41:9019", "via", "ops@jump:2222", "ssh"] in rows, out
    for field, value, origin in (("hostname", "10.20.30.41", f"{ssh_config}:2"), ("port", "9019", f"{ssh_config}:3"),
                                 ("user", "pilot", f"{toml}:4 (hosts.r2d5.user)"), ("key", str(key), f"{ssh_config}:5"),
                                 ("jump", "ops@jump:2222", f"{ssh_config}:6")):
        assert any(" ".join(row).endswith(f"{field} {value} {origin}") for row in rows), (field, out)
    assert f"{ssh_config}:7: UseKeychain is not an option of OpenSSH" in out
    assert "absent" in out and "skipped, as OpenSSH does" in out
    data = json.loads(validate(toml, "--json").stdout)
    conn = data["hosts"][0]["connection"]
    assert conn["hostname"] == {"value": "10.20.30.41", "origin": f"{ssh_config}:2"}
    assert conn["port"] == {"value": 9019, "origin": f"{ssh_config}:3"}
    assert conn["user"] == {"value": "pilot", "origin": f"{toml}:4 (hosts.r2d5.user)"}
    assert conn["key"] == {"value": str(key), "origin": f"{ssh_config}:5"}
    assert conn["jump"] == {"value": "ops@jump:2222", "origin": f"{ssh_config}:6"}


async def test_host_detail_shows_the_connection_and_the_skipped_key(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_ui_pilot import until

    from screens.app import CockpitApp
    from screens.host_detail import HostDetailScreen
    from screens.widgets.fleet_table import FleetTable

    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host web1\n  IdentityFile {tmp_path}/absent_key\n" + alias_block(fleet, "h1", "web1"))
    app = CockpitApp(Engine(load_config(cockpit_toml(tmp_path, fleet, {"a": "web1"}, ssh_config))), quiet=True)
    h = fleet["h1"]
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.dashboard.query_one("#fleet", FleetTable)
        await until(pilot, lambda: table.row_count == 1 and "ok" in " ".join(str(c) for c in table.get_row("a")))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
        title = app.screen.query_one("#hd-title")
        await until(pilot, lambda: "connects as" in str(title.content))
        text = str(title.content)
        assert f"connects as {fleet.user}@{h.address}:{h.port}" in text, text
        assert f"⚠ identity file {tmp_path}/absent_key" in text and "skipped, as OpenSSH does" in text, text
