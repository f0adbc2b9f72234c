"""`cockpit snapshot`, `check` and `watch` as operators run them, against the loopback fleet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cockpitcfg import write_config

ROOT = Path(__file__).resolve().parents[1]


def cockpit(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("COCKPIT_CONFIG", None) if env is None or "COCKPIT_CONFIG" not in env else None
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=timeout)


SERVICES = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[services.admin]
on = ["h2"]
docker = "admin"
critical = false
"""


SERVICES_H1 = SERVICES.split("[services.admin]")[0]


def test_snapshot_json_and_markdown(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    fleet.set_docker("h2", "admin", "restarting none 3")
    fleet["h3"].stop()
    path = write_config(tmp_path, fleet, SERVICES, ssh={"connect_timeout": "2s"})
    res = cockpit("snapshot", "-c", str(path))
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["schema_version"] == 1 and data["schema"] == "cutover-cockpit/snapshot"
    hosts = {h["name"]: h for h in data["hosts"]}
    assert hosts["h1"]["reachable"] and hosts["h1"]["services"][0]["status"] == "up"
    assert hosts["h1"]["load"]["mem_pct"] is not None
    assert hosts["h3"]["reach"] == "unreachable" and "refused" in hosts["h3"]["error"]
    assert data["generated_at"].endswith("Z")
    out = tmp_path / "fleet.md"
    res = cockpit("snapshot", "-c", str(path), "--format", "markdown", "-o", str(out))
    assert res.returncode == 0 and res.stdout == ""
    md = out.read_text()
    assert "| h3 | **unreachable**" in md
    assert "◐ degraded (non-critical)" in md


def test_check_exit_codes(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    fleet.set_docker("h2", "admin", "exited none 0")  # non-critical: printed, never failing
    path = write_config(tmp_path, fleet, SERVICES)
    res = cockpit("check", "-c", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WARN h2 admin: down" in res.stdout and "OK: 3 host(s)" in res.stdout

    fleet.set_systemd("h2", "fleet-agent", "failed failed")
    res = cockpit("check", "-c", str(path))
    assert res.returncode == 1
    assert "FAIL h2 agent: down: failed (failed)" in res.stdout

    res = cockpit("check", "-c", str(path), "--on", "h1")
    assert res.returncode == 0, res.stdout
    res = cockpit("check", "-c", str(path), "--on", "tag:nope")
    assert res.returncode == 2 and "matches no host" in res.stderr


def test_config_from_env_and_cwd(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, SERVICES_H1, hosts=["h1"])
    fleet.set_systemd("h1", "fleet-agent", "active running")
    res = cockpit("check", env={"COCKPIT_CONFIG": str(path)})
    assert res.returncode == 0, res.stdout + res.stderr
    res = cockpit("check", cwd=tmp_path)  # ./cockpit.toml
    assert res.returncode == 0, res.stdout + res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cockpit("check", cwd=empty)
    assert res.returncode == 2 and "cockpit.toml" in res.stderr and "Traceback" not in res.stderr


def test_watch_jsonl(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, SERVICES_H1, hosts=["h1"], cockpit={"interval": "0.2s"})
    res = cockpit("watch", "-c", str(path), "--jsonl", "--rounds", "3")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 3
    assert all(line["hosts"][0]["services"][0]["status"] == "up" for line in lines)
    assert lines[0]["events"] == [] or all("at" in e for e in lines[0]["events"])
