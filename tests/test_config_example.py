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
    assert "5 hosts" in res.stdout and "Fleet agent v1 -> v2" in res.stdout
