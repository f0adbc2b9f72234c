"""Smoke tests of the loopback test fleet, with plain asyncssh (not the engine)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time

import asyncssh
import httpx
import psutil
import pytest
from fleet import Fleet
from httpd import HttpServer
from proctree import is_gone


def gone(pid: int) -> bool:
    try:
        return is_gone(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


async def run(fleet: Fleet, host: str, command: str, **kwargs: object) -> asyncssh.SSHCompletedProcess:
    async with asyncssh.connect(**fleet.connect_kwargs(host, **kwargs)) as conn:
        return await conn.run(command, check=False)


async def test_each_host_has_its_identity_and_shims(fleet: Fleet) -> None:
    for host in fleet.hosts:
        result = await run(fleet, host.name, "echo $COCKPIT_TEST_HOST; command -v systemctl; id -un")
        assert result.exit_status == 0, result.stderr
        assert str(result.stdout).split() == [host.name, f"{fleet.shim_dir}/systemctl", fleet.user]


async def test_hosts_have_distinct_addresses_and_keys(fleet: Fleet) -> None:
    assert [h.name for h in fleet.hosts] == ["h1", "h2", "h3"]
    assert len({(h.address, h.port) for h in fleet.hosts}) == 3
    assert len({h.host_key_fingerprint() for h in fleet.hosts}) == 3
    lines = fleet.known_hosts.read_text().splitlines()
    assert lines[0] == f"[{fleet.hosts[0].address}]:{fleet.hosts[0].port} {fleet.hosts[0].host_public_key()}"
    async with asyncssh.connect(**fleet.connect_kwargs("h2")) as conn:
        key = conn.get_server_host_key()
        assert key is not None
        assert key.get_fingerprint() == fleet["h2"].host_key_fingerprint()


async def test_systemctl_shim(fleet: Fleet) -> None:
    fleet.set_systemd("h1", "nginx.service", "active running")
    fleet.set_systemd("h1", "worker", "failed failed 4")
    show = "systemctl show -p ActiveState -p SubState -p LoadState -p NRestarts"
    result = await run(
        fleet, "h1",
        f"{show} nginx; {show} worker.service; {show} ghost; "
        "systemctl is-active nginx; echo rc=$?; systemctl is-active ghost; echo rc=$?",
    )
    assert str(result.stdout).splitlines() == [
        "ActiveState=active", "SubState=running", "LoadState=loaded", "NRestarts=0",
        "ActiveState=failed", "SubState=failed", "LoadState=loaded", "NRestarts=4",
        "ActiveState=inactive", "SubState=dead", "LoadState=not-found", "NRestarts=0",
        "active", "rc=0", "inactive", "rc=3",
    ]
    other = await run(fleet, "h2", "systemctl is-active nginx")
    assert other.exit_status == 3  # state is per host


async def test_docker_shim(fleet: Fleet) -> None:
    fleet.set_docker("h3", "web", "running healthy 0")
    found = await run(fleet, "h3", "docker inspect --format '{{.State.Status}}' web")
    assert (found.exit_status, found.stdout) == (0, "running healthy 0\n")
    fleet.set_docker("h3", "web", None)
    gone = await run(fleet, "h3", "docker inspect --format x web")
    assert (gone.exit_status, gone.stdout, gone.stderr) == (1, "", "Error: No such object: web\n")


async def test_shim_delay_makes_commands_slow(fleet: Fleet) -> None:
    fleet["h1"].set_shim_delay(0.5)
    began = time.monotonic()
    await run(fleet, "h1", "systemctl is-active x")
    assert time.monotonic() - began >= 0.5


async def test_pause_hangs_host_and_resume_recovers(fleet: Fleet) -> None:
    host = fleet["h2"]
    async with asyncssh.connect(**fleet.connect_kwargs(host)) as conn:
        host.pause()
        with pytest.raises((asyncio.TimeoutError, asyncssh.Error, OSError)):
            await asyncio.wait_for(asyncssh.connect(**fleet.connect_kwargs(host)), 0.5)
        with pytest.raises(asyncio.TimeoutError):  # open sessions hang too
            await asyncio.wait_for(conn.run("true"), 0.5)
        host.resume()
        assert (await asyncio.wait_for(conn.run("echo back"), 5)).stdout == "back\n"
    assert (await run(fleet, "h2", "echo again")).stdout == "again\n"


async def test_stopped_host_refuses_and_restarts(fleet: Fleet) -> None:
    host = fleet["h3"]
    host.stop()
    with pytest.raises(ConnectionRefusedError):
        await asyncssh.connect(**fleet.connect_kwargs(host))
    host.start()
    assert (await run(fleet, "h3", "echo up")).stdout == "up\n"


async def test_regenerated_host_key_is_rejected_until_accepted(fleet: Fleet) -> None:
    host = fleet["h1"]
    old = host.host_key_fingerprint()
    new = host.regenerate_host_key()
    assert new != old
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(**fleet.connect_kwargs(host))
    fleet.write_known_hosts()
    assert (await run(fleet, "h1", "echo ok")).stdout == "ok\n"


def test_openssh_client_works_too(fleet: Fleet) -> None:
    result = subprocess.run(fleet["h1"].ssh_argv("echo $COCKPIT_TEST_HOST"), capture_output=True, text=True, timeout=10)
    assert (result.returncode, result.stdout) == (0, "h1\n"), result.stderr


async def test_fleet_factory_with_extra_config(fleet_factory) -> None:  # type: ignore[no-untyped-def]
    own = fleet_factory(1, extra_config="MaxSessions 2\nMaxStartups 50:30:100")
    assert "MaxSessions 2" in own["h1"].config_path.read_text()
    assert own.startup_seconds is not None and own.startup_seconds < 5
    async with asyncssh.connect(**own.connect_kwargs("h1")) as conn:
        first = await conn.create_process("sleep 5")
        second = await conn.create_process("sleep 5")
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.create_process("true")  # MaxSessions 2 reached
        first.close()
        second.close()


def test_fleet_close_leaves_no_process(fleet_factory) -> None:  # type: ignore[no-untyped-def]
    own = fleet_factory(2)
    pids = [h.pid for h in own.hosts]
    # A command that outlives its session: sshd does not kill it, the fleet must.
    started = subprocess.run(
        own["h1"].ssh_argv("sleep 60 >/dev/null 2>&1 & echo $!"),
        check=True, capture_output=True, text=True, timeout=10,
    )
    orphan = int(started.stdout)
    assert [p.pid for p in own.remote_processes("h1")] == [orphan]
    assert own.remote_processes("h2") == []
    own.close()
    assert all(gone(pid) for pid in [*pids, orphan] if pid is not None)
    assert not own.root.exists()


async def test_reset_kills_commands_left_behind(fleet: Fleet) -> None:
    async with asyncssh.connect(**fleet.connect_kwargs("h2")) as conn:
        live = await conn.create_process("echo started; exec sleep 60")
        assert await live.stdout.readline() == "started\n"
        orphan = int((await conn.run("sleep 60 >/dev/null 2>&1 & echo $!")).stdout)
        remote = {p.pid for p in fleet.remote_processes("h2")}
        assert orphan in remote and len(remote) >= 2
        fleet.reset()  # the live session's command stays, the orphan goes
        assert gone(orphan)
        assert (await conn.run("echo still")).stdout == "still\n"
        live.close()


async def test_httpd_routes(httpd: HttpServer) -> None:
    httpd.route("/health", body="fine")
    httpd.route("/moved", status=302, headers={"Location": "/health"})
    async with httpx.AsyncClient() as client:
        ok = await client.get(httpd.url("/health"))
        moved = await client.get(httpd.url("/moved"))
        missing = await client.get(httpd.url("/nope"))
    assert (ok.status_code, ok.text) == (200, "fine")
    assert (moved.status_code, moved.headers["location"]) == (302, "/health")
    assert missing.status_code == 404
    assert [r.path for r in httpd.requests] == ["/health", "/moved", "/nope"]


async def test_httpd_delay(httpd: HttpServer) -> None:
    httpd.route("/slow", delay=0.3)
    began = time.monotonic()
    async with httpx.AsyncClient() as client:
        assert (await client.get(httpd.url("/slow"))).status_code == 200
    assert time.monotonic() - began >= 0.3


def test_httpd_drip_sends_slowly(httpd: HttpServer) -> None:
    httpd.route("/drip", drip=True, drip_interval=0.2)
    with socket.create_connection((httpd.address, httpd.port), timeout=5) as sock:
        sock.sendall(b"GET /drip HTTP/1.1\r\nHost: x\r\n\r\n")
        began = time.monotonic()
        received = b""
        while time.monotonic() - began < 1.0:
            received += sock.recv(100)
    assert b"HTTP/1.1 200".startswith(received[:12]) and 3 <= len(received) <= 7


def test_dummy_process_is_found_by_name(dummy_process) -> None:  # type: ignore[no-untyped-def]
    proc = dummy_process()
    found = subprocess.run(["pgrep", "-x", proc.marker], capture_output=True, text=True)
    assert found.stdout.split() == [str(proc.pid)]
    assert psutil.Process(proc.pid).cmdline()[0] == proc.marker
    proc.stop()
    assert gone(proc.pid)


def test_tcp_listener_accepts(tcp_listener) -> None:  # type: ignore[no-untyped-def]
    listener = tcp_listener()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=2):
        pass
    listener.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", listener.port), timeout=2)
