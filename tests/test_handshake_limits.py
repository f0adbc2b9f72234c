"""Handshake limits per destination sshd, per jump host and per machine; the keys that set them (issue 20)."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.config.ansible import load_ansible
from cockpit.errors import ConfigError
from cockpit.spec import HostSpec, SshSettings
from cockpit.transports import HandshakeLimits, SshPool, SshTransport, resolve_host
from cockpit.transports.limits import default_ceiling


async def _handshakes(limits: HandshakeLimits, dests: list[tuple[str, int]], jump: str | None = None) -> None:
    async def one(dest: tuple[str, int]) -> None:
        async with limits.slot(dest, jump):
            await asyncio.sleep(0.01)  # a handshake in progress; the test counts, never times

    await asyncio.gather(*(one(d) for d in dests))


async def test_one_sshd_gets_at_most_max_startups_but_many_sshds_are_not_held_to_it() -> None:
    one_sshd = HandshakeLimits(per_sshd=8, ceiling=64)
    await _handshakes(one_sshd, [("10.0.0.1", 22)] * 40)
    assert one_sshd.view().peak_per_sshd == 8

    many = HandshakeLimits(per_sshd=8, ceiling=64)
    await _handshakes(many, [(f"10.0.0.{i}", 22) for i in range(200)])
    view = many.view()
    assert view.peak_per_sshd == 1 and view.peak_total == 64  # the machine's ceiling, not one sshd's limit


async def test_same_address_other_port_is_another_sshd_and_a_jump_host_is_shared() -> None:
    limits = HandshakeLimits(per_sshd=3, ceiling=100)
    await _handshakes(limits, [("10.0.0.1", 22 + i % 2) for i in range(20)])
    assert limits.view().peak_per_sshd == 3 and limits.view().peak_total == 6
    behind = HandshakeLimits(per_sshd=3, ceiling=100)
    await _handshakes(behind, [(f"10.1.0.{i}", 22) for i in range(40)], jump="bastion")
    assert behind.view().peak_per_jump == 3 and behind.view().peak_total == 3


def test_ceiling_is_sized_for_this_machine() -> None:
    ceiling = default_ceiling(1000)
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 1 <= ceiling <= 256
    assert soft == resource.RLIM_INFINITY or soft - 1000 >= ceiling  # room for 1,000 connections and the ceiling


def test_route_from_the_ssh_config_and_the_hosts_own_field(tmp_path: Path) -> None:
    """The handshake limits' key and the jump chain: the ssh_config's HostName/Port/ProxyJump, the host's proxy_jump first."""
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host web*\n  HostName 10.2.0.5\n  Port 2200\n  ProxyJump bastion\n")
    settings = SshSettings(config=cfg)
    web = resolve_host(HostSpec(name="web1", address="web1"), settings)
    assert (web.destination, web.proxy_jump) == (("10.2.0.5", 2200), "bastion")
    assert resolve_host(HostSpec(name="web1", address="web1", proxy_jump="none"), settings).proxy_jump is None
    assert resolve_host(HostSpec(name="db1", address="db1", proxy_jump="j1,j2"), settings).proxy_jump == "j1,j2"
    assert resolve_host(HostSpec(name="db1", address="db1"), settings).destination == ("db1", 22)


def test_one_jump_transport_per_chain_and_its_hops(tmp_path: Path) -> None:
    pool = SshPool(HandshakeLimits(8, 32))
    settings = SshSettings(config=None)
    a = SshTransport(HostSpec(name="h1", address="10.0.0.1", proxy_jump="ops@b1:2222,b2"), settings, pool)
    b = SshTransport(HostSpec(name="h2", address="10.0.0.2", proxy_jump="ops@b1:2222,b2"), settings, pool)
    assert a.resolved is not None and b.resolved is not None
    last = SshTransport.jump_host(a.resolved.proxy_jump or "", settings, pool)
    assert last is SshTransport.jump_host(b.resolved.proxy_jump or "", settings, pool)
    assert last.resolved is not None
    assert (last.resolved.destination, last.resolved.proxy_jump) == (("b2", 22), "ops@b1:2222")
    first = SshTransport.jump_host("ops@b1:2222", settings, pool)
    assert first.resolved is not None
    assert (first.resolved.destination, first.resolved.user, first.resolved.proxy_jump) == (("b1", 2222), "ops", None)


def _config(tmp_path: Path, ssh: str, host: str = "") -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(f'[ssh]\n{ssh}\n[hosts.web1]\naddress = "10.0.0.1"\n{host}\n')
    return path


def test_config_keys(tmp_path: Path) -> None:
    c = load_config(_config(tmp_path, "max_startups = 4\nmax_handshakes = 32", 'proxy_jump = "ops@bastion"'))
    assert (c.ssh.max_startups, c.ssh.max_handshakes, c.hosts[0].proxy_jump) == (4, 32, "ops@bastion")
    assert load_config(_config(tmp_path, 'max_handshakes = "auto"')).ssh.max_handshakes is None
    assert load_config(_config(tmp_path, "")).ssh.max_handshakes is None


@pytest.mark.parametrize(("ssh", "host", "words"), [
    ('max_handshakes = "lots"', "", ['ssh.max_handshakes', '"auto" or an integer']),
    ("max_handshakes = 0", "", ["ssh.max_handshakes", "from 1 to 1000"]),
    ("", 'proxy_jump = "a b"', ["hosts.web1.proxy_jump", "separated by commas"]),
])
def test_bad_keys_name_the_key_and_the_fix(tmp_path: Path, ssh: str, host: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, ssh, host))
    text = str(err.value)
    assert all(w in text for w in words), text


def test_ansible_proxy_jump_from_ssh_args(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("[web]\nweb1 ansible_ssh_common_args='-J ops@bastion:2222'\n"
                   "web2 ansible_ssh_common_args='-o ProxyJump=b1,b2 -o ServerAliveInterval=5'\nweb3\n")
    assert [h.proxy_jump for h in load_ansible(inv)] == ["ops@bastion:2222", "b1,b2", None]
