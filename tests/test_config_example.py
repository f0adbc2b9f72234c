"""config.example.toml stays valid: the README points newcomers at it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_config_example_validates() -> None:
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    res = subprocess.run([sys.executable, "-m", "cockpit", "validate", str(ROOT / "config.example.toml")],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert "8 hosts" in res.stdout and "Fleet agent v1 -> v2" in res.stdout


def test_config_example_shows_every_feature() -> None:
    from cockpit.config import load_config

    cfg = load_config(ROOT / "config.example.toml", env={})
    assert len(cfg.hosts) == 8
    assert {"nixos", "macos", "cloud"} <= {t for h in cfg.hosts for t in h.tags}
    kinds = {s.check.kind for s in cfg.services}
    assert kinds == {"systemd", "launchd", "docker", "process", "port", "http", "tcp", "command", "ws", "dns", "compose",
                     "pm2", "log"}
    assert any(getattr(s.check, "expect_json", ()) and s.check.method == "POST" for s in cfg.services)  # JSON-RPC
    assert {s.check.expect_status for s in cfg.services if s.check.kind == "ws"} == {101, 401}  # type: ignore[union-attr]
    assert cfg.actions and any(a.confirm for a in cfg.actions)
    rb = cfg.runbook
    assert rb.rollback is not None and rb.rollback.verify
    assert [(r.name, r.budget) for r in rb.rollbacks] == [("quick", 60.0), ("full", 300.0)]  # seed 003's two
    assert all(p.gate for p in rb.phases) and any(p.hold for p in rb.phases)
    steps = [s for p in rb.phases for s in p.steps]
    assert any(s.verify for s in steps) and any(s.run is None for s in steps)
    for flag in ("sudo", "detach", "expect_disconnect", "irreversible"):
        assert any(getattr(s, flag) for s in steps), flag
    assert any(s.batch for s in steps) and any(s.pause == "manual" for s in steps)
    # pre/post: every other service on the cloud host still answers 200 or 302
    others = [s for s in cfg.services if s.name.startswith("other-")]
    assert others and all(s.check.expect_status == (200, 302) for s in others)  # type: ignore[union-attr]
    assert all(any(f"up({s.name})" in g for g in rb.phases[0].gate) for s in others)
