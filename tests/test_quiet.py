"""A fresh install is quiet: no deprecation noise from dependencies on any command (issue 13, item 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_validate_prints_nothing_on_stderr(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONWARNINGS", None)
    env.pop("COCKPIT_CONFIG", None)
    res = subprocess.run([sys.executable, "-m", "cockpit", "validate", str(ROOT / "config.example.toml")],
                         capture_output=True, text=True, check=False, env=env, cwd=tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert "Fleet agent v1 -> v2" in res.stdout


def test_the_filter_is_narrow() -> None:
    """Only asyncssh's DSA deprecation is silenced: the same warning from our own code still shows."""
    code = ("import warnings, cockpit\n"
            "warnings.warn_explicit('DSA is deprecated', DeprecationWarning, 'x.py', 1, module='cockpit.x')\n")
    res = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert "DSA is deprecated" in res.stderr
