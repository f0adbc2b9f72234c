"""The engine against a real loopback fleet of OpenSSH sshd: every check kind, failures, manners."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from cockpitcfg import write_config

from cockpit.config import load_config
from cockpit.exports import Exporter
from cockpit.engine import Engine


def results(snap, host: str) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {r.service: (r.status, r.detail) for r in snap.host(host).results}


async def one_round(path: Path, hosts: list[str] | None = None):  # type: ignore[no-untyped-def]
    async with Engine(load_config(path)) as engine:
        return await engine.run_round(hosts)


async def test_every_check_kind_up_and_down(fleet, tmp_path, httpd, dummy_process, tcp_listener) -> None:  # type: ignore[no-untyped-def]
    proc = dummy_process()
    lst = tcp_listener()
    httpd.route("/ok", body="Welcome to Fleet")
    httpd.route("/login", status=302, headers={"Location": "/elsewhere"})
    httpd.route("/broken", status=502, body="bad gateway")
    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h1", "stopped-unit", "inactive dead")
    fleet.set_docker("h1", "fleet", "running healthy 0")
    fleet.set_docker("h1", "admin", "restarting none 7")
    fleet.set_docker("h1", "sick", "running unhealthy 0")
    fleet.set_launchd("h1", "com.fleet.agent", "4242 0")
    fleet.set_launchd("h1", "com.fleet.crashed", "- 78")
    services = f"""
[services.agent]
on = ["h1"]
systemd = "fleet-agent"
[services.stopped]
on = ["h1"]
systemd = "stopped-unit"
[services.missing-unit]
on = ["h1"]
systemd = "no-such-unit"
[services.mac-agent]
on = ["h1"]
launchd = "com.fleet.agent"
[services.mac-crashed]
on = ["h1"]
launchd = "com.fleet.crashed"
[services.mac-missing]
on = ["h1"]
launchd = "com.fleet.none"
[services.container]
on = ["h1"]
docker = "fleet"
[services.admin]
on = ["h1"]
docker = "admin"
critical = false
[services.sick]
on = ["h1"]
docker = "sick"
[services.gone]
on = ["h1"]
docker = "gone"
[services.worker]
on = ["h1"]
process = "{proc.marker}"
[services.no-worker]
on = ["h1"]
process = "node no-such-worker-{proc.marker}.js"
[services.listening]
on = ["h1"]
port = {lst.port}
[services.free]
on = ["h1"]
port = {lst.port}
port_free = true
[services.web]
on = ["h1"]
http = "{httpd.url('/ok')}"
expect_body = "Fleet"
[services.login]
on = ["h1"]
http = "{httpd.url('/login')}"
expect_status = [200, 302]
[services.broken]
on = ["h1"]
http = "{httpd.url('/broken')}"
[services.tcp-up]
on = ["h1"]
tcp = {lst.port}
tcp_host = "127.0.0.1"
[services.tcp-down]
on = ["h1"]
tcp = 1
tcp_host = "127.0.0.1"
[services.ping]
on = ["h1"]
command = "echo ok; echo on $COCKPIT_TEST_HOST"
expect_stdout = "ok"
[services.ping-regex]
on = ["h1"]
command = "echo version 2.4.1"
expect_stdout_regex = 'version 2\\.\\d+'
[services.failing]
on = ["h1"]
command = "echo boom >&2; exit 4"
"""
    snap = await one_round(write_config(tmp_path, fleet, services, hosts=["h1"]))
    r = results(snap, "h1")
    assert snap.host("h1").reach == "ok"
    assert r["agent"][0] == "up"
    assert r["stopped"] == ("down", "inactive (dead)")
    assert r["missing-unit"][0] == "down" and "does not exist" in r["missing-unit"][1]
    assert r["mac-agent"] == ("up", "running, pid 4242")
    assert r["mac-crashed"] == ("down", "loaded but not running (last exit 78)")
    assert r["mac-missing"] == ("down", "com.fleet.none is not loaded")
    assert r["container"] == ("up", "running, healthy")
    assert r["admin"][0] == "degraded" and "restart loop" in r["admin"][1]
    assert r["sick"][0] == "down" and "unhealthy" in r["sick"][1]
    assert r["gone"] == ("down", "no container named gone")
    assert r["worker"][0] == "up" and "RSS" in r["worker"][1]
    assert r["no-worker"][0] == "down"
    assert r["listening"][0] == "up"
    assert r["free"][0] == "down" and "still held" in r["free"][1]
    assert r["web"][0] == "up" and "HTTP 200" in r["web"][1]
    assert r["login"][0] == "up" and "HTTP 302" in r["login"][1]
    assert r["broken"] == ("down", "HTTP 502 (expected 200)")
    assert r["tcp-up"][0] == "up"
    assert r["tcp-down"][0] == "down" and "refused" in r["tcp-down"][1]
    assert r["ping"] == ("up", "on h1")
    assert r["ping-regex"][0] == "up"
    assert r["failing"] == ("down", "exit 4: boom")
    load = snap.host("h1").load
    assert load is not None and load.mem is not None and load.load1 is not None and load.disk is not None
    assert load.cpu is not None  # primed on the first round

    # the worker dies, the listener goes away: the next round says so
    proc.stop()
    lst.stop()
    snap = await one_round(write_config(tmp_path, fleet, services, hosts=["h1"]))
    r = results(snap, "h1")
    assert r["worker"][0] == "down"
    assert r["listening"][0] == "down" and r["free"][0] == "up" and r["tcp-up"][0] == "down"


async def test_unreachable_and_hung_hosts_do_not_hold_up_the_round(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    services = '[services.agent]\non = ["all"]\nsystemd = "fleet-agent"\n'
    path = write_config(tmp_path, fleet, services, ssh={"connect_timeout": "2s", "command_timeout": "3s"})
    fleet["h2"].stop()
    fleet["h3"].pause()
    began = time.monotonic()
    snap = await one_round(path)
    took = time.monotonic() - began
    assert took < 2 + 3 + 1.5, took
    assert snap.host("h1").reach == "ok" and results(snap, "h1")["agent"][0] == "up"
    h2, h3 = snap.host("h2"), snap.host("h3")
    assert h2.reach == "unreachable" and "refused" in h2.error
    assert h3.reach == "unreachable" and "timeout" in h3.error
    assert results(snap, "h2")["agent"][0] == "unknown"


async def test_host_hung_after_connect_times_out_its_batch(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    services = '[services.agent]\non = ["all"]\nsystemd = "fleet-agent"\n'
    path = write_config(tmp_path, fleet, services, ssh={"connect_timeout": "2s", "command_timeout": "2s"})
    async with Engine(load_config(path)) as engine:
        await engine.run_round()
        fleet.set_shim_delay("h2", 30)  # the host's commands hang
        began = time.monotonic()
        snap = await engine.run_round()
        assert time.monotonic() - began < 2 + 2 + 1.5
        assert results(snap, "h2")["agent"][0] == "unknown"
        assert results(snap, "h1")["agent"][0] == "down"  # no unit: a definite answer


async def test_auth_failure_is_reported_and_not_retried(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wrong = tmp_path / "wrong_key"
    import subprocess
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    path = write_config(tmp_path, fleet, "", hosts=["h1"], ssh={"identity_files": [str(wrong)]})
    async with Engine(load_config(path)) as engine:
        def connections() -> int:  # sshd logs each accepted TCP connection
            return fleet["h1"].log_text().count("Connection from ")

        snap = await engine.run_round()
        assert snap.host("h1").reach == "auth-failed"
        assert "authentication refused" in snap.host("h1").error
        for _ in range(40):  # sshd may log after the client saw the refusal
            if connections() >= 1:
                break
            await asyncio.sleep(0.05)
        attempts = connections()
        assert attempts >= 1
        for _ in range(3):
            snap = await engine.run_round()
            assert snap.host("h1").reach == "auth-failed"
        await asyncio.sleep(0.5)
        assert connections() == attempts  # later rounds made no new attempt
        engine.retry("h1")  # the operator retries: one new attempt
        snap = await engine.run_round()
        for _ in range(40):
            if connections() > attempts:
                break
            await asyncio.sleep(0.05)
        assert connections() == attempts + 1


@pytest.mark.parametrize("policy", ["strict", "accept-new"])
async def test_unknown_host_key(fleet, tmp_path, policy: str) -> None:  # type: ignore[no-untyped-def]
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    path = write_config(tmp_path, fleet, '[services.c]\non=["h1"]\ncommand="true"\n', hosts=["h1"],
                        ssh={"known_hosts": str(kh), "host_keys": policy})
    snap = await one_round(path)
    h = snap.host("h1")
    if policy == "strict":
        assert h.reach == "host-key-unknown"
        assert h.fingerprint == fleet["h1"].host_key_fingerprint()
        assert results(snap, "h1")["c"][0] == "unknown"
        assert kh.read_text() == ""
    else:
        assert h.reach == "ok"
        assert kh.read_text().startswith(f"[{fleet['h1'].address}]:{fleet['h1'].port} ssh-ed25519 ")
        snap = await one_round(path)  # now known: strict would accept it too
        assert snap.host("h1").reach == "ok"


@pytest.mark.parametrize("policy", ["strict", "accept-new"])
async def test_changed_host_key_is_never_accepted(fleet, tmp_path, policy: str) -> None:  # type: ignore[no-untyped-def]
    old_known = fleet.known_hosts.read_text()
    fleet["h1"].regenerate_host_key()
    kh = tmp_path / "known_hosts"
    kh.write_text(old_known)
    path = write_config(tmp_path, fleet, '[services.c]\non=["h1"]\ncommand="touch /tmp/should-not-run"\n',
                        hosts=["h1"], ssh={"known_hosts": str(kh), "host_keys": policy})
    snap = await one_round(path)
    h = snap.host("h1")
    assert h.reach == "host-key-CHANGED"
    assert h.fingerprint == fleet["h1"].host_key_fingerprint()
    assert "CHANGED" in h.error
    assert kh.read_text() == old_known


async def test_known_hosts_edits_are_seen_by_a_running_engine(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """known_hosts is parsed once per change, not per connect: an added key is trusted, a swapped one refused."""
    line = next(ln for ln in fleet.known_hosts.read_text().splitlines()
                if ln.startswith(f"[{fleet['h1'].address}]:{fleet['h1'].port} "))
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    path = write_config(tmp_path, fleet, '[services.c]\non=["h1"]\ncommand="true"\n', hosts=["h1"],
                        ssh={"known_hosts": str(kh)})
    async with Engine(load_config(path)) as engine:
        assert (await engine.run_round()).host("h1").reach == "host-key-unknown"
        kh.write_text(line + "\n")  # the operator verified the fingerprint and added it
        engine.retry("h1")
        assert (await engine.run_round()).host("h1").reach == "ok"
        other = ssh_keygen_pub(tmp_path)
        kh.write_text(f"[{fleet['h1'].address}]:{fleet['h1'].port} {other}\n")  # now a different key is on record
        fleet["h1"].restart()  # the connection drops; the next one must be judged afresh
        for _ in range(100):
            if not engine.transport("h1").connected:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
        engine.retry("h1")
        snap = await engine.run_round()
        assert snap.host("h1").reach == "host-key-CHANGED", snap.host("h1").error


def ssh_keygen_pub(tmp_path: Path) -> str:
    import subprocess

    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


async def test_big_output_keeps_memory_bounded(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import psutil

    path = write_config(tmp_path, fleet, "", hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        rss_before = psutil.Process().memory_info().rss
        res = await engine.run_command("h1", "head -c 50000000 /dev/zero | tr '\\0' x; echo; echo END", timeout=60,
                                       max_output=100_000)
        rss_after = psutil.Process().memory_info().rss
    assert res.ok and res.truncated
    assert res.stdout.endswith("END\n") and len(res.stdout) == 100_000
    assert rss_after - rss_before < 30_000_000, (rss_before, rss_after)


async def test_slow_drip_http_fails_at_its_deadline(fleet, tmp_path, httpd) -> None:  # type: ignore[no-untyped-def]
    url = httpd.route("/drip", drip=True, drip_interval=0.5)
    path = write_config(tmp_path, fleet, f'[services.drip]\non=["h1"]\nhttp="{url}"\ntimeout="2s"\n', hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        await engine.probes.start()  # its start is no probe's
        began = time.monotonic()
        snap = await engine.run_round()
        took = time.monotonic() - began
    status, detail = results(snap, "h1")["drip"]
    assert status == "down" and "within 2s" in detail
    assert took < 4.5, took


async def test_secret_from_env_never_appears_in_exports(fleet, tmp_path, httpd, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    secret = "s3cr3t-T0ken-value"
    monkeypatch.setenv("FLEET_TOKEN", secret)
    httpd.route("/api", status=500, body=f"leaked {secret}")
    services = f"""
[services.api]
on = ["h1"]
http = "{httpd.url('/api')}"
headers = {{ Authorization = "Bearer ${{FLEET_TOKEN}}" }}
[services.echo]
on = ["h1"]
command = "echo the token is {secret}; exit 1"
"""
    path = write_config(tmp_path, fleet, services, hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        snap = await engine.run_round()
        ex = Exporter(engine.redactor)
        texts = [ex.json(snap), ex.markdown(snap), ex.jsonl(snap)]
        res = await engine.run_command("h1", f"echo {secret}", timeout=10)
    assert any(req.headers.get("Authorization") == f"Bearer {secret}" for req in httpd.requests)
    for text in texts:
        assert secret not in text
        assert "***" in text
    assert results(snap, "h1")["echo"] == ("down", "exit 1: the token is ***")
    assert engine.redactor.redact(res.stdout) == "***\n"


async def test_cancelled_command_leaves_nothing_behind(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import psutil

    marker = f"ckcancel{time.time_ns() % 10**9}"
    path = write_config(tmp_path, fleet, "", hosts=["h1"])

    def leftovers() -> list[psutil.Process]:
        found = []
        for p in psutil.process_iter(["cmdline"]):
            try:
                if any(marker in part for part in p.info["cmdline"] or []):
                    found.append(p)
            except psutil.Error:
                pass
        return found

    async with Engine(load_config(path)) as engine:
        cmd = f"sh -c 'sleep 300; echo {marker}' & sh -c 'sleep 301; echo {marker}' & echo started; wait"
        lines: list[str] = []
        task = asyncio.create_task(engine.run_command("h1", cmd, timeout=None, on_output=lambda s, t: lines.append(t)))
        for _ in range(100):
            if leftovers() and lines:
                break
            await asyncio.sleep(0.05)
        assert leftovers(), "the command never started"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            if not leftovers():
                break
            await asyncio.sleep(0.05)
        assert leftovers() == []


async def test_timed_out_command_is_killed_with_its_children(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import psutil

    marker = f"cktimeout{time.time_ns() % 10**9}"
    path = write_config(tmp_path, fleet, "", hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        res = await engine.run_command("h1", f"sh -c 'sleep 300 # {marker}' & wait", timeout=1)
        assert res.timed_out and res.exit_status is None
        for _ in range(100):
            alive = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
            if not alive:
                break
            await asyncio.sleep(0.05)
        assert alive == []


async def test_default_sshd_limits_no_spurious_failures(fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """14 hosts (> MaxStartups 10) x 12 checks, plus 25 concurrent commands on one host (> MaxSessions 10)."""
    big = fleet_factory(14)
    services = "\n".join(f'[services.c{i}]\non = ["all"]\ncommand = "echo ok{i}"\nexpect_stdout = "ok{i}"\n' for i in range(12))
    path = write_config(tmp_path, big, services, ssh={"connect_timeout": "10s"})
    async with Engine(load_config(path)) as engine:
        snap = await engine.run_round()
        bad = [(h.name, h.reach, h.error) for h in snap.hosts if h.reach != "ok"]
        assert bad == []
        assert all(r.status == "up" for h in snap.hosts for r in h.results)
        outs = await asyncio.gather(*(engine.run_command("h1", f"sleep 0.3; echo {i}", timeout=30) for i in range(25)))
        assert [o.stdout for o in outs] == [f"{i}\n" for i in range(25)]


async def test_escape_sequences_and_markup_are_neutralised_in_exports(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    evil = r"printf '\033[31mRED\033[0m \033]0;pwned\007[bold]markup[/bold] | pipe\n'; exit 1"
    path = write_config(tmp_path, fleet, f"[services.evil]\non=['h1']\ncommand = '''{evil}'''\n", hosts=["h1"])
    async with Engine(load_config(path)) as engine:
        snap = await engine.run_round()
        ex = Exporter(engine.redactor)
        texts = {"json": ex.json(snap), "md": ex.markdown(snap), "jsonl": ex.jsonl(snap)}
    detail = results(snap, "h1")["evil"][1]
    assert detail == "exit 1: RED [bold]markup[/bold] | pipe"
    for name, text in texts.items():
        assert "\x1b" not in text and "\x07" not in text and "\\u001b" not in text, name
        assert "pwned" not in text, name
    assert "\\[bold\\]markup" in texts["md"] and "\\| pipe" in texts["md"]


async def test_pollers_publish_snapshots_and_status_changes(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, '[services.agent]\non=["h1"]\nsystemd="fleet-agent"\n', hosts=["h1"],
                        cockpit={"interval": "0.3s"})
    async with Engine(load_config(path)) as engine:
        sub = engine.subscribe()
        await engine.start()
        seen = []
        deadline = time.monotonic() + 15
        flipped = False
        while time.monotonic() < deadline:
            async with asyncio.timeout(10):
                snap = await sub.next()
            seen.extend(snap.events)
            h1 = snap.host("h1")
            if not flipped and h1.results and h1.results[0].status == "up":
                fleet.set_systemd("h1", "fleet-agent", "failed failed")
                flipped = True
            if any(e.service == "agent" and e.old == "up" and e.new == "down" for e in seen):
                break
        assert any(e.service == "agent" and e.old == "up" and e.new == "down" and "failed" in e.detail for e in seen)


async def test_ssh_config_host_alias_is_honoured(fleet, tmp_path, tcp_listener) -> None:  # type: ignore[no-untyped-def]
    h = fleet["h1"]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host web-alias\n  HostName {h.address}\n  Port {h.port}\n  User {fleet.user}\n"
                          f"  IdentityFile {fleet.client_key}\n")
    lst = tcp_listener(address=h.address)
    text = f"""[cockpit]
title = "alias"
[ssh]
config = "{ssh_config}"
known_hosts = "{fleet.known_hosts}"
[hosts.web]
address = "web-alias"
[services.who]
on = ["web"]
command = "echo $COCKPIT_TEST_HOST"
[services.port]
on = ["web"]
tcp = {lst.port}
"""
    path = tmp_path / "alias.toml"
    path.write_text(text)
    snap = await one_round(path)
    assert snap.host("web").reach == "ok", snap.host("web").error
    assert results(snap, "web")["who"] == ("up", "h1")
    assert results(snap, "web")["port"][0] == "up"  # TCP went to the alias's HostName


async def test_host_comes_back_after_a_restart(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, '[services.agent]\non=["h1"]\nsystemd="fleet-agent"\n', hosts=["h1"],
                        ssh={"connect_timeout": "2s"})
    async with Engine(load_config(path)) as engine:
        assert (await engine.run_round()).host("h1").reach == "ok"
        fleet["h1"].stop()  # drops the connection too
        snap = await engine.run_round()
        assert snap.host("h1").reach == "unreachable"
        fleet["h1"].start()
        for _ in range(20):  # backoff starts at 1 s
            snap = await engine.run_round()
            if snap.host("h1").reach == "ok":
                break
            await asyncio.sleep(0.5)
        assert snap.host("h1").reach == "ok"
        assert results(snap, "h1")["agent"][0] == "up"
