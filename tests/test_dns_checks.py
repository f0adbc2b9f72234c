"""dns checks (issue 24, item 6) against Debian's dnsmasq, started here on loopback ports.

Two resolvers play a DNS switch half done: the "new" one answers api.test -> 127.0.0.9 with a lowered TTL
(30 s) and www.test as a CNAME of it; the "old" one still answers 127.0.0.7 with a TTL of an hour. Each
check resolves on the host (dig, in the host's round script) or from the cockpit (dnspython, in the probe
worker); what is asserted is the status and detail an operator reads.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cockpit.checks.remote import check_snippet, judge
from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.errors import ConfigError
from cockpit.spec import DnsCheck

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
pytestmark = pytest.mark.skipif(not os.path.exists(DNSMASQ) or not shutil.which("dig"),
                                reason="needs dnsmasq (dnsmasq-base) and dig (bind9-dnsutils): make system-deps")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dnsmasq(tmp: Path, name: str, ttl: int, *records: str) -> tuple[subprocess.Popen[bytes], int]:
    """A dnsmasq of our own on a free loopback port, once it answers *and* holds that port.

    The port is free when picked but not reserved: another worker's dnsmasq may take it first, ours then
    fails to bind and exits, and the answer came from theirs (gone with their test: "connection refused"
    later, seen in CI). So the answer counts only while our process owns the port; else another port.
    """
    for _attempt in range(5):
        port = _free_udp_port()
        proc = subprocess.Popen([DNSMASQ, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
                                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/test/",
                                 f"--local-ttl={ttl}", f"--pid-file={tmp / (name + '.pid')}", *records],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:  # ready when it answers
            res = subprocess.run(["dig", "+short", "+tries=1", "+time=1", "-p", str(port), "@127.0.0.1", "api.test"],
                                 capture_output=True, text=True)
            if res.stdout.strip() and _owns_udp_port(proc, port):
                return proc, port
            time.sleep(0.1)
        proc.kill()
        proc.wait(10)
    raise RuntimeError(f"dnsmasq {name} did not answer on a port of its own")


def _owns_udp_port(proc: subprocess.Popen[bytes], port: int) -> bool:
    try:
        return any(c.laddr and c.laddr.port == port for c in psutil.Process(proc.pid).net_connections(kind="udp"))
    except psutil.Error:
        return False


@pytest.fixture
def resolvers(tmp_path: Path) -> Iterator[tuple[int, int]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        new, new_port = _dnsmasq(tmp_path, "new", 30, "--host-record=api.test,127.0.0.9", "--cname=www.test,api.test")
        started.append(new)
        old, old_port = _dnsmasq(tmp_path, "old", 3600, "--host-record=api.test,127.0.0.7")
        started.append(old)
        yield new_port, old_port
    finally:
        for proc in started:
            proc.terminate()
            proc.wait(timeout=10)
    assert all(p.poll() is not None for p in started)


def _config(tmp_path: Path, services: str) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text('[hosts.me]\ntransport = "local"\naddress = "127.0.0.1"\n' + services)
    return path


def _svc(name: str, *lines: str) -> str:
    return "\n".join([f"[services.{name}]", 'on = ["me"]', *lines]) + "\n"


async def test_a_dns_switch_half_done_as_an_operator_sees_it(tmp_path, resolvers) -> None:  # type: ignore[no-untyped-def]
    new, old = (f"127.0.0.1:{p}" for p in resolvers)
    closed = f"127.0.0.1:{_free_udp_port()}"
    services = "".join([
        _svc("host-new", 'dns = "api.test"', f'resolvers = ["{new}"]', 'expect_addresses = ["127.0.0.9"]',
             'max_ttl = "60s"'),
        _svc("cockpit-both", 'dns = "api.test"', f'resolvers = ["{new}", "{old}"]',
             'expect_addresses = ["127.0.0.9"]', 'from = "cockpit"'),
        _svc("host-both", 'dns = "api.test"', f'resolvers = ["{new}", "{old}"]', 'expect_addresses = ["127.0.0.9"]'),
        _svc("old-ttl", 'dns = "api.test"', f'resolvers = ["{old}"]', 'max_ttl = "5m"', 'from = "cockpit"'),
        _svc("cname-cockpit", 'dns = "www.test"', f'resolvers = ["{new}"]', 'expect_cname = "api.test"',
             'from = "cockpit"'),
        _svc("cname-host", 'dns = "www.test"', f'resolvers = ["{new}"]', 'expect_cname = "api.test."',
             'expect_addresses = ["127.0.0.9"]'),
        _svc("gone", 'dns = "gone.test"', f'resolvers = ["{new}"]'),
        _svc("silent-cockpit", 'dns = "api.test"', f'resolvers = ["{closed}"]', 'from = "cockpit"', 'timeout = "2s"'),
        _svc("silent-host", 'dns = "api.test"', f'resolvers = ["{closed}"]', 'timeout = "3s"'),
    ])
    async with Engine(load_config(_config(tmp_path, services), env={})) as engine:
        snap = await engine.run_round()
    r = {x.service: x for h in snap.hosts for x in h.results}
    assert (r["host-new"].status, r["host-new"].detail) == ("up", f"api.test A 127.0.0.9 (TTL 30 s) on {new}")
    assert dict(r["host-new"].extra)["ttl"] == 30 and r["host-new"].latency is None
    for name in ("cockpit-both", "host-both"):
        assert (r[name].status, r[name].detail) == ("down", f"{old} answers 127.0.0.7 (expected 127.0.0.9)"), name
        assert dict(r[name].extra)["ttl"] == 3600
    assert (r["old-ttl"].status, r["old-ttl"].detail) == (
        "down", f"TTL 3600 s on {old} > max_ttl 300 s (not lowered yet?)")
    assert r["cname-cockpit"].status == "up" and "via api.test" in r["cname-cockpit"].detail, r["cname-cockpit"]
    assert r["cname-host"].status == "up", r["cname-host"].detail
    assert (r["gone"].status, r["gone"].detail) == ("down", f"gone.test does not exist (NXDOMAIN) on {new}")
    for name in ("silent-cockpit", "silent-host"):
        assert r[name].status == "unknown", (name, r[name].detail)
        assert r[name].detail.startswith(f"resolver did not answer: {closed}: "), r[name].detail


def test_without_dig_on_the_host_the_check_is_unknown_and_says_what_to_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    check = DnsCheck("api.test", resolvers=("127.0.0.1:53",))
    res = subprocess.run(["/bin/sh", "-c", check_snippet(check, 5.0)], capture_output=True, text=True,
                         env={"PATH": str(tmp_path)}, timeout=30)  # a PATH without dig, as on a bare host
    v = judge(check, res.stdout + res.stderr, res.returncode)
    assert v.status == "unknown"
    assert v.detail == 'dig not found on the host: install bind9-dnsutils (dnsutils), or resolve from the cockpit ' \
                       'with from = "cockpit"'


@pytest.mark.parametrize(("lines", "message"), [
    (['dns = "api..test"'], "'api..test' is not a DNS name"),
    (['dns = "api.test"', 'record = "MX"'], "record must be A, AAAA or CNAME"),
    (['dns = "api.test"', 'resolvers = ["127.0.0.1:99999"]'], "'127.0.0.1:99999' is not a resolver"),
    (['dns = "api.test"', 'expect_addresses = ["10.0.0.300"]'], "'10.0.0.300' is not an IP address"),
    (['dns = "api.test"', 'expect_addresses = ["::1"]'], "::1 is an IPv6 address but record = 'A'"),
    (['dns = "api.test"', 'record = "CNAME"'], 'record = "CNAME" needs expect_cname'),
    (['dns = "api.test"', 'from = "resolver"'], 'from must be "host" or "cockpit"'),
    (['dns = "api.test"', "max_ttl = 'soon'"], "'soon' is not a duration"),
    (['dns = "api.test"', 'via = "me"'], "'via' does not apply to a dns check"),
])
def test_bad_dns_options_name_the_key_and_the_fix(tmp_path, lines, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, _svc("api-dns", *lines)), env={})
    assert message in str(info.value) and "services.api-dns" in str(info.value), str(info.value)


def test_p95_is_refused_on_a_dns_check(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = _svc("api-dns", 'dns = "api.test"') + '[[phases]]\nid = "p"\ngate = ["p95(api-dns) < 1s"]\n'
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, text), env={})
    assert "'api-dns' is a dns check, which has none" in str(info.value)
