"""``cockpit --version``: the installed package's version, from its metadata (never a second copy in code)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_version_comes_from_the_package_metadata() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("COCKPIT_CONFIG", None)
    out = subprocess.run([sys.executable, "-m", "cockpit", "--version"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"cockpit {importlib.metadata.version('cutover-cockpit')}\n"
    assert "textual" not in out.stderr.lower()
