"""`cockpit validate` on every malformed config: exit status 2, the file named, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).parent / "configs" / "bad"
GOOD = Path(__file__).parent / "configs" / "full.toml"


def run_validate(path: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCKPIT_TEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "cockpit", "validate", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", sorted(BAD.glob("*.toml")), ids=lambda p: p.name)
def test_validate_rejects_bad_config(path: Path) -> None:
    result = run_validate(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert path.name in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_missing_file() -> None:
    result = run_validate(BAD / "no-such-config.toml")
    assert result.returncode == 2
    assert "no-such-config.toml" in result.stderr and "Traceback" not in result.stderr


def test_validate_good_config_describes_it_without_secrets() -> None:
    result = run_validate(GOOD, {"COCKPIT_TEST_CSB1": "cs1.example.net", "COCKPIT_TEST_TOKEN": "s3cr3t-token"})
    assert result.returncode == 0, result.stderr
    assert "Fleet agent v1 -> v2" in result.stdout and "10 hosts" in result.stdout
    assert "s3cr3t-token" not in result.stdout
