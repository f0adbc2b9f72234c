"""A host whose key is of another type than the one known (RSA known, ed25519 offered) is a host-key change,
named as one with both types and fingerprints, never "handshake failed" with a MaxStartups hint (issue 13, 6)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cockpitcfg import write_config

from cockpit.config import load_config
from cockpit.engine import Engine


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


async def test_known_rsa_offered_ed25519_is_a_changed_host_key(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    h1 = fleet["h1"]
    rsa = tmp_path / "old_rsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(rsa)], check=True,
                   capture_output=True)
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[{h1.address}]:{h1.port} {' '.join((tmp_path / 'old_rsa.pub').read_text().split()[:2])}\n")
    before = kh.read_text()
    path = write_config(tmp_path, fleet, '[services.c]\non=["h1"]\ncommand="true"\n', hosts=["h1"],
                        ssh={"known_hosts": str(kh), "host_keys": "accept-new"})
    async with Engine(load_config(path)) as engine:
        snap = await engine.run_round()
    h = snap.host("h1")
    assert h.reach == "host-key-CHANGED", h.error
    assert h.fingerprint == h1.host_key_fingerprint()
    assert "CHANGED" in h.error and "ssh-ed25519" in h.error and "ssh-rsa" in h.error, h.error
    assert _fingerprint(tmp_path / "old_rsa.pub") in h.error and h1.host_key_fingerprint() in h.error, h.error
    assert "MaxStartups" not in h.error and "handshake failed" not in h.error
    assert kh.read_text() == before  # accept-new never accepts a changed key
