"""`cockpit step run PHASE.STEP --dry-run` (issue 23, item 4): the commands each host would run, per batch,
with placeholders filled and secrets as ••••, and nothing touched: no connection reaches any host (one
sshd running, one replaced by a bare listener that counts connections) and the journal stays byte-identical.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from cockpitcfg import write_config

from cockpit.journal import Journal

ROOT = Path(__file__).resolve().parents[1]

STEPS = r"""
[services.agent]
on = ["all"]
command = "true"

[[phases]]
id = "canary"
title = "Canary"

  [[phases.steps]]
  id = "start-v2"
  title = "Start v2"
  on = ["all"]
  run = "/opt/v2/start-v2 --listen {address} --name {host} --port {port}"
  batch = 1
  verify = ["up(agent)"]
  rollback = "/opt/v2/stop-v2 {host}"
  env = { V2_TOKEN = "${DRY_TOKEN}" }

  [[phases.steps]]
  id = "look"
  title = "Look around"
  on = ["all"]
"""


def cockpit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice", **env}
    full.pop("COCKPIT_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=full,
                          timeout=60, cwd=ROOT)


def test_dry_run_prints_rendered_commands_and_touches_nothing(fleet_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    own = fleet_factory(2)
    h1, h2 = own.hosts
    path = write_config(tmp_path, own, STEPS)
    path.write_text(path.read_text().replace(f'address = "{h1.address}"', 'address = "${DRY_ADDR}"', 1))
    secret_addr, token = h1.address, "tok-s3cret-9f8e"
    env = {"DRY_ADDR": secret_addr, "DRY_TOKEN": token}
    journal = tmp_path / "cockpit.journal.sqlite"
    Journal(journal, "alice").open().close()  # a journal exists: the dry run must neither open a lease nor write a record
    before = journal.read_bytes()
    h2.stop()  # a host that is down: a dry run does not care, and must not try
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((h2.address, h2.port))
        listener.listen(8)
        listener.setblocking(False)
        log_before = h1.log_text().count("Connection from")
        res = cockpit("step", "run", "canary.start-v2", "--dry-run", "-c", str(path), env=env)
        assert res.returncode == 0, res.stderr
        out = res.stdout
        assert "batch 1/2:\n  h1 $ /opt/v2/start-v2 --listen •••• --name h1 --port " in out, out
        assert f"batch 2/2:\n  h2 $ /opt/v2/start-v2 --listen {h2.address} --name h2 --port {h2.port}" in out, out
        assert "hosts (2): h1, h2" in out and "verify: up(agent)" in out and "env (on its stdin): V2_TOKEN=••••" in out
        assert "rollback: /opt/v2/stop-v2 {host}" in out
        assert secret_addr not in out and token not in out and token not in res.stderr
        assert "{address}" not in out.split("rollback:")[0]
        try:
            conn, _ = listener.accept()
            conn.close()
            raise AssertionError("the dry run connected to h2")
        except BlockingIOError:
            pass  # nothing reached the down host
        assert h1.log_text().count("Connection from") == log_before  # nor the running one
    finally:
        listener.close()
    assert journal.read_bytes() == before
    assert not Path(f"{journal}-wal").exists() or Path(f"{journal}-wal").stat().st_size == 0


def test_dry_run_of_a_manual_step_or_unknown_step_is_a_clear_error(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, STEPS)
    env = {"DRY_TOKEN": "x"}
    res = cockpit("step", "run", "canary.look", "--dry-run", "-c", str(path), env=env)
    assert res.returncode == 2 and "canary.look is manual: nothing to run" in res.stderr and "Traceback" not in res.stderr
    res = cockpit("step", "run", "canary.nope", "--dry-run", "-c", str(path), env=env)
    assert res.returncode == 2 and "no step 'canary.nope'" in res.stderr and "Traceback" not in res.stderr
