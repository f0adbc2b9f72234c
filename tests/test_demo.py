"""`cockpit demo`: the scenario plays headless, and nothing it started outlives it, however it exits."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("COCKPIT_CONFIG", None)
    return env


def test_headless_demo_plays_the_whole_scenario(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "cockpit", "demo", "--headless", "--duration", "90s", "--out", str(out)],
                         capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=150)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "canary10.split-10: done" in res.stdout and "canary50.split-50: done" in res.stdout
    assert "REGRESSION" in res.stdout and " gate FAILS: " in res.stdout
    assert "quick rollback: ok" in res.stdout
    paths = json.loads(res.stdout.strip().splitlines()[-1])
    snap = json.loads(Path(paths["snapshot"]).read_text())
    assert snap["schema_version"] == 1 and {h["name"] for h in snap["hosts"]} >= {"cockpit"}
    report = Path(paths["report"]).read_text()
    for text in ("Canary 10%", "Rollout 50%", "Quick rollback to v1", "Inject fault into v2", "baseline captured"):
        assert text in report, text
    assert paths["rollback_ok"] and paths["rollback_seconds"] < 30
    if shutil.which("sshd") or Path("/usr/sbin/sshd").exists():
        assert "throwaway sshd" in res.stdout and "edge" in {h["name"] for h in snap["hosts"]}


def _start(tmp_path: Path) -> tuple[subprocess.Popen[str], Path, list[psutil.Process], list[int]]:
    proc = subprocess.Popen([sys.executable, "-m", "cockpit", "demo", "--headless", "--duration", "120s",
                             "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(), cwd=tmp_path)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        lines.append(line)
        if "baseline captured" in line or not line:
            break
    text = "".join(lines)
    assert "baseline captured" in text, text + (proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
    demo_dir = Path(re.search(r"under (\S+)", text).group(1))  # type: ignore[union-attr]
    children = psutil.Process(proc.pid).children(recursive=True)
    ports = sorted({c.laddr.port for p in children for c in _listening(p)})
    assert len(children) >= 5 and len(ports) >= 4
    return proc, demo_dir, children, ports


def _listening(p: psutil.Process) -> list:  # type: ignore[type-arg]
    try:
        return [c for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    except psutil.Error:
        return []


def _gone(children: list[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    alive = children
    while time.monotonic() < deadline:
        alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        if not alive:
            break
        time.sleep(0.1)
    return alive


def _port_free(port: int, ours: set[int]) -> bool:
    """None of the demo's processes listens on it any more (a TIME_WAIT left by our own probes is not a
    bound port; another test's server that got the freed port from the kernel since is not the demo's)."""
    return not any(c.laddr.port == port and c.status == psutil.CONN_LISTEN and (c.pid is None or c.pid in ours)
                   for c in psutil.net_connections(kind="tcp"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_demo_leaves_nothing_behind(tmp_path: Path, sig: signal.Signals) -> None:
    proc, demo_dir, children, ports = _start(tmp_path)
    try:
        proc.send_signal(sig)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()  # type: ignore[union-attr]
    assert proc.returncode == 128 + int(sig), err  # never 0: the signal is handled in the loop (cockpit.shutdown)
    assert f"stopped by {sig.name}" in err and "Traceback" not in err, err
    assert _gone(children) == []
    assert not demo_dir.exists()
    assert all(_port_free(p, {c.pid for c in children}) for p in ports if p < 65536)


def test_demo_children_die_with_it_even_on_kill_9(tmp_path: Path) -> None:
    proc, demo_dir, children, _ports = _start(tmp_path)
    try:
        proc.kill()
        proc.wait(10)
        assert _gone(children) == []  # PR_SET_PDEATHSIG: the kernel tells them
    finally:
        shutil.rmtree(demo_dir, ignore_errors=True)  # no process can clean up after kill -9 of itself
