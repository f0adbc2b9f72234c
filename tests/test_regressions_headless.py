"""Headless latency regressions on a real loopback endpoint: flagged when they happen, inconclusive when unjudgeable.

Before: `diff` and `check --against-baseline` ran 2 rounds while the rule needed 5 samples, so a
110 ms endpoint gone to 400 ms left the regression column empty, silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cockpit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "tester"})


@pytest.mark.slow
def test_diff_flags_a_slowed_endpoint_and_says_inconclusive_when_it_cannot_judge(tmp_path, httpd) -> None:  # type: ignore[no-untyped-def]
    httpd.route("/api", body="ok", delay=0.11)
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(f"""
[cockpit]
interval = "200ms"
[journal]
path = "{tmp_path / 'journal.sqlite'}"
[runbook]
window = "2m"
[hosts.local]
transport = "local"
[services.api]
on = ["local"]
http = "{httpd.url('/api')}"
""")
    res = _cockpit("baseline", "-c", str(cfg))
    assert res.returncode == 0, res.stderr
    assert "baseline: round 20/20" in res.stderr and "baseline recorded" in res.stdout

    res = _cockpit("diff", "-c", str(cfg), "--json", "--rounds", "3")  # too few to judge a latency
    assert res.returncode == 0, res.stderr
    row = next(r for r in json.loads(res.stdout) if r["service"] == "api")
    assert row["regression"].startswith("inconclusive:") and "of 20 samples" in row["regression"], row

    httpd.route("/api", body="ok", delay=0.40)
    res = _cockpit("diff", "-c", str(cfg), "--json")
    assert res.returncode == 0, res.stderr
    row = next(r for r in json.loads(res.stdout) if r["service"] == "api")
    assert "> 1.5x and +20 ms" in row["regression"] and "median 4" in row["regression"], row
    res = _cockpit("check", "-c", str(cfg), "--against-baseline")
    assert res.returncode == 1
    assert any(line.startswith("FAIL REGRESSION local api: median") for line in res.stdout.splitlines()), res.stdout
