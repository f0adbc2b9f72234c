"""Seed 003 (legacy Python services to Node.js, canary 10% -> 50% -> 100%) as its operators wrote it, in TOML.

Four real processes stand in for the Node.js services (a small Python HTTP server each, run as the fleet's
login user so the rollbacks can stop them over SSH); one more for the legacy system. Each is checked as a
process (with its own memory and CPU), by its health endpoint and by its error log; the canary gate holds
the seed's targets: p95 < 200 ms and error rate < 0.1 % from Prometheus (backfilled, tests/promtraffic.py:
v2 is a good build, v3 a bad one), memory < 200 MB per service, CPU < 50 %, no ERROR in the logs. The quick
rollback (< 1 min) and the full one (< 5 min) are the seed's two, each timed against its own budget.

Not expressible as the seed wrote it: a log glob (``/var/log/stinkster/*.log``); a log check reads one file,
a journald unit or a container, so there is one log check per service's file.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cockpitcfg import write_config
from prom import Prometheus, namespace
from promtraffic import SCRAPE_INTERVAL, error_ratio, p95, traffic

from cockpit.conditions import evaluate_all
from cockpit.config import load_config
from cockpit.model import CheckResult
from cockpit.runbook import EngineContext
from cockpit.session import Session

NODES = ("node-1", "node-2", "node-3", "node-4")

# one service: /health; /boom logs an ERROR and answers 500; /leak holds 220 MB; /peak starts four busy
# children until /calm (each gives up after 8 s, so none outlives the test; four, so that even on a loaded
# two-core machine they hold well over half a core between two readings: measured 72% with two)
STAND_IN = r'''
import http.server, os, subprocess, sys, time
name, run, log = sys.argv[1], sys.argv[2], sys.argv[3]
held, busy = [], []
SPIN = "import time\ne = time.time() + 8\nwhile time.time() < e: pass"

def write(level, text):
    with open(log, "a") as f:
        f.write(time.strftime("%H:%M:%S ") + level + " " + name + ": " + text + "\n")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if self.path == "/boom" else 200
        if self.path == "/boom":
            write("ERROR", "unhandled rejection: connect ECONNREFUSED 127.0.0.1:5432")
        elif self.path == "/leak":
            held.append(b"x" * (220 << 20))
        elif self.path == "/peak":
            busy.extend(subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(4))
        elif self.path == "/calm":
            for p in busy:
                p.kill()
                p.wait()
            busy.clear()
        write("INFO", "GET " + self.path + " " + str(code))
        self.send_response(code)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(run, name + ".port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(run, name + ".port.tmp"), os.path.join(run, name + ".port"))
with open(os.path.join(run, name + ".pid"), "w") as f:
    f.write(str(os.getpid()))
server.serve_forever()
'''


class Stinkster:
    """The seed's world in a directory the login user owns: run/ (pids, ports), stinkster/ (logs), traffic split."""

    def __init__(self, root: Path, user: str) -> None:
        self.root, self.user, self.tag = root, user, f"stk{os.getpid()}x{int(time.monotonic() * 1000) % 100000}"
        self.run, self.logs = root / "run", root / "stinkster"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        (root / "stand_in.py").write_text(STAND_IN)
        (root / "split").write_text("legacy 100\n")
        for d in (self.run, self.logs):
            d.mkdir()
        for path in (root, self.run, self.logs, root / "split"):
            os.chmod(path, 0o777 if path.is_dir() else 0o666)  # the steps and rollbacks write here over SSH

    def marker(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def start(self, name: str) -> None:
        as_user = {"user": self.user} if os.geteuid() == 0 and self.user != getpass.getuser() else {}
        self.procs[name] = subprocess.Popen(
            ["/usr/bin/python3", str(self.root / "stand_in.py"), self.marker(name), str(self.run),
             str(self.logs / f"{name}.log")], start_new_session=True, **as_user)  # type: ignore[call-overload]
        port = self.run / f"{self.marker(name)}.port"
        deadline = time.monotonic() + 10
        while not port.exists():
            assert self.procs[name].poll() is None and time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.02)
        self.ports[name] = int(port.read_text())

    def get(self, name: str, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}{path}", timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self) -> None:
        """Every stand-in and its children, by process group (a rollback may have stopped some already)."""
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


@pytest.fixture
def stinkster(fleet) -> Iterator[Stinkster]:  # type: ignore[no-untyped-def]
    root = Path(tempfile.mkdtemp(prefix="cockpit-seed003-"))
    world = Stinkster(root, fleet.user)
    try:
        for name in ("legacy", *NODES):
            world.start(name)
        yield world
    finally:
        world.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)
    assert not any(psutil.pid_exists(p.pid) for p in world.procs.values())


def seed_003(world: Stinkster, prometheus: Prometheus, ns: str) -> str:
    """The seed's services, canary gate and rollbacks; ``{split}`` is the load balancer's traffic split."""
    svc = [f'[services.legacy]\non = ["h1"]\nprocess = "{world.marker("legacy")}"\n']
    gate = ["up(legacy)"]
    for n in NODES:
        svc.append(f'[services.{n}]\non = ["h1"]\nprocess = "{world.marker(n)}"\n\n'
                   f'[services.{n}-health]\non = ["h1"]\nhttp = "http://127.0.0.1:{world.ports[n]}/health"\n\n'
                   f"[services.{n}-errors]\non = [\"h1\"]\nlog = 'ERROR'\nfile = \"{world.logs / n}.log\"\n")
        gate += [f"up({n})", f"up({n}-health)", f"rss({n}) < 200MB", f"cpu({n}) < 50%", f"matches({n}-errors) == 0"]
    gate += [f"metric({json.dumps(p95(ns, 'v2'))}) < 200ms", f"metric({json.dumps(error_ratio(ns, 'v2'))}) < 0.1%"]
    down = ", ".join(f'"down({n})"' for n in NODES)
    split, run = world.root / "split", world.run
    # each stand-in by the pid it wrote, whose file goes with it (a pid is never signalled twice)
    stop = f'for f in {run}/{world.tag}-node-*.pid; do [ -e "$f" ] && kill "$(cat "$f")" && rm -f "$f"; done; true'
    return "\n".join(svc) + f"""
[metrics.prom]
prometheus = "{prometheus.url}"
scrape_interval = "{SCRAPE_INTERVAL:g}s"

[[phases]]
id = "canary"
title = "Phase 1: Canary deployment (10% traffic)"
gate = {json.dumps(gate)}

  [[phases.steps]]
  id = "split-10"
  title = "configure-traffic-split.sh 10"
  on = ["h1"]
  run = "echo 'node 10' > {split}"
  verify = {json.dumps([f"up({n}-health)" for n in NODES])}

[[phases]]
id = "expand"
title = "Phase 2: Expanded rollout (50% traffic)"

  [[phases.steps]]
  id = "split-50"
  title = "configure-traffic-split.sh 50"
  on = ["h1"]
  run = "echo 'node 50' > {split}"

[rollback.quick]
title = "Quick rollback (traffic to legacy, new services stopped)"
on = ["h1"]
run = '''echo 'legacy 100' > {split} && {stop}'''
verify = ["up(legacy)", {down}]
within = "20s"
budget = "1m"

[rollback.full]
title = "Full rollback (configs restored, legacy re-enabled)"
on = ["h1"]
run = '''echo 'legacy 100' > {split}; {stop}; echo restored > {world.root}/configs-restored'''
verify = ["up(legacy)", {down}]
within = "20s"
budget = "5m"
"""


def _r(snap, name: str) -> CheckResult:  # type: ignore[no-untyped-def]
    return next(r for h in snap.hosts for r in h.results if r.service == name)


async def test_seed_003_canary_targets_and_both_rollbacks(tmp_path: Path, fleet, stinkster: Stinkster,  # type: ignore[no-untyped-def]
                                                          prometheus: Prometheus) -> None:
    ns = namespace("seed003")
    prometheus.backfill(traffic(prometheus.om(), ns))
    cfg = load_config(write_config(tmp_path, fleet, seed_003(stinkster, prometheus, ns), hosts=["h1"],
                                   cockpit={"state_dir": str(tmp_path / "state")}), env={})
    s = Session(cfg, "christian")

    async def judge(*conditions: str) -> tuple[bool | None, str]:
        # metric() at the backfilled traffic's "now"; the rest from the latest round
        v = await evaluate_all(list(conditions), EngineContext(s.engine, at=prometheus.now))
        return v.value, v.detail

    gate = cfg.runbook.phases[0].gate
    try:
        snap = await s.engine.run_round()
        for n in NODES:
            assert _r(snap, n).status == "up" and _r(snap, n).detail.startswith("1 process, pid "), _r(snap, n)
            assert _r(snap, f"{n}-health").status == "up", _r(snap, f"{n}-health").detail
        view = await s.runbook.run_step("canary.split-10")
        assert view.state == "done", view.checks
        assert (stinkster.root / "split").read_text() == "node 10\n"
        await s.engine.run_round()
        value, why = await judge(*gate)
        assert value is True, why  # every target of the seed holds for the good build

        # what the gate says when a target is missed
        assert stinkster.get("node-2", "/boom") == 500
        assert stinkster.get("node-4", "/leak") == 200
        assert stinkster.get("node-3", "/peak") == 200
        try:
            await s.engine.run_round()
            await asyncio.sleep(1.0)  # node-3's busy children run between the two readings
            snap = await s.engine.run_round()
            value, why = await judge("cpu(node-3) < 50%")
            assert value is False and "limit < 50%" in why, why
            assert (await judge("cpu(node-1) < 50%"))[0] is True
        finally:
            stinkster.get("node-3", "/calm")
        value, why = await judge("rss(node-4) < 200MB")
        assert value is False and "limit < 200 MB" in why, why
        assert (await judge("rss(node-1) < 200MB", "rss(node-2) < 200MB"))[0] is True
        value, why = await judge("matches(node-2-errors) == 0")
        assert value is False and "1 on h1" in why, why
        assert _r(snap, "node-2-errors").detail.endswith("ERROR " + stinkster.marker("node-2") + ": unhandled "
                                                         "rejection: connect ECONNREFUSED 127.0.0.1:5432"), \
            _r(snap, "node-2-errors").detail
        assert (await judge("matches(node-1-errors) == 0"))[0] is True
        value, why = await judge(*gate)
        assert value is False, why
        # the same Prometheus targets on a bad build: p95 462.5 ms (shown rounded), 1.96 % errors
        value, why = await judge(f"metric({json.dumps(p95(ns, 'v3'))}) < 200ms")
        assert value is False and "FAILS: 462 ms" in why, why
        value, why = await judge(f"metric({json.dumps(error_ratio(ns, 'v3'))}) < 0.1%")
        assert value is False and "1.96%" in why, why

        # quick rollback: traffic back to legacy, the new services stopped, within its 1 minute
        rec = await s.runbook.quick_rollback("quick")
        rb = s.runbook.view().rollback
        assert rec.ok and rb is not None and rb.ok and rb.budget == 60.0, rb
        assert "Quick rollback" in rb.headline() and "of 1 m budget" in rb.headline(), rb.headline()
        assert "OVER BUDGET" not in rb.headline()
        assert (stinkster.root / "split").read_text() == "legacy 100\n"
        snap = await s.engine.run_round()
        assert all(_r(snap, n).status == "down" and "no process matches" in _r(snap, n).detail for n in NODES)
        assert all(_r(snap, f"{n}-health").status == "down" for n in NODES)
        assert _r(snap, "legacy").status == "up"
        assert s.runbook.view().phases[0].state == "rolled-back"

        # full rollback: its own budget of 5 minutes
        rec = await s.runbook.quick_rollback("full")
        rb = s.runbook.view().rollback
        assert rec.ok and rb is not None and rb.ok and rb.budget == 300.0, rb
        assert "Full rollback" in rb.headline() and "of 5 m budget" in rb.headline(), rb.headline()
        assert (stinkster.root / "configs-restored").read_text() == "restored\n"
    finally:
        await s.close()
