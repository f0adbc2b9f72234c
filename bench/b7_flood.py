"""B7 flood: action output floods while services are probed every second; does the cockpit's own load
become an outage? (issue 19)

Usage: .venv/bin/python bench/b7_flood.py [--quiet-seconds 20] [--big-mb 50] [--out b7_flood]

The real App (Textual's run_test, 160x48) and engine against 5 loopback sshd hosts, 4 services each
(systemd agent, a command, an HTTP probe to a server in its own process, a TCP connect): 20 services
probed every second. First a quiet run (``--quiet-seconds``), then the flood: ``seq 1 200000`` on h1-h3
and ``--big-mb`` MB of output on h4, fired as one action each, until both finish, plus 5 s.

Figures, quiet against flood:
- ``ui_tick_gap_ms``: gaps between ticks of a 50 ms timer in the App (what the screen's frames wait
  for), p99 and max;
- ``http_probe_ms`` / ``round_ms``: HTTP probe latency and host round duration, p99;
- ``false_downs``: status changes to down/unreachable (and any change at all) while every service is
  healthy: must be 0;
- ``finish_lag_s``: from the remote command's end (its last line is ``date +%s.%N`` there, same clock)
  to the host's final line on screen, max (target <= 2 s);
- ``rss_mb``: the process's RSS, max over the run, sampled every 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from common import ROOT, log, pct, versions, write_result

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cockpitcfg import write_config  # noqa: E402
from fleet import Fleet  # noqa: E402

from cockpit.config import load_config  # noqa: E402
from cockpit.engine import Engine  # noqa: E402
from cockpit.model import HostState, StatusChange  # noqa: E402
from screens.app import CockpitApp  # noqa: E402
from screens.widgets.output_pane import OutputPane  # noqa: E402

HOSTS = 5
SIZE = (160, 48)
SERVICES = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"
[services.shell]
on = ["all"]
command = "true"
[services.web]
on = ["all"]
http = "http://127.0.0.1:{port}/ep/1"
[services.port]
on = ["all"]
tcp = 22000
tcp_host = "127.0.0.1"
"""


class Probe:
    """What the bench watches while the App runs: timer gaps, rounds, probe latencies, changes, RSS."""

    def __init__(self, app: CockpitApp) -> None:
        self.app = app
        self.ticks: list[float] = []
        self.rounds: list[tuple[float, float]] = []  # (at, round seconds)
        self.http: list[tuple[float, float]] = []  # (at, latency seconds)
        self.uncounted: list[tuple[float, float]] = []  # answers whose timing was not counted (checks/probing.py)
        self.changes: list[tuple[float, StatusChange]] = []
        self.rss: list[tuple[float, int]] = []
        app.engine.round_hooks.append(self.on_round)

    def on_round(self, state: HostState, events: list[StatusChange]) -> None:
        now = time.monotonic()
        if state.round_ended and state.round_started:
            self.rounds.append((now, state.round_ended - state.round_started))
        self.http.extend((now, r.latency) for r in state.results if r.kind == "http" and r.latency is not None)
        self.uncounted.extend((now, float(r.get("uncounted_ms") or 0) / 1000) for r in state.results
                              if r.kind == "http" and r.get("timing"))
        self.changes.extend((now, e) for e in events)

    def tick(self) -> None:
        self.ticks.append(time.monotonic())

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        ticks = [t for t in self.ticks if t0 <= t <= t1]
        gaps = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])] or [0.0]
        rounds = [d * 1000 for t, d in self.rounds if t0 <= t <= t1] or [0.0]
        counted = [d * 1000 for t, d in self.http if t0 <= t <= t1]
        uncounted = [d * 1000 for t, d in self.uncounted if t0 <= t <= t1]
        http, raw = counted or [0.0], counted + uncounted or [0.0]
        changes = [e for t, e in self.changes if t0 <= t <= t1]
        return {
            "seconds": round(t1 - t0, 1),
            "ui_tick_gap_ms": {"p50": round(pct(gaps, 50), 1), "p99": round(pct(gaps, 99), 1), "max": round(max(gaps), 1)},
            "round_ms": {"p50": round(pct(rounds, 50), 1), "p99": round(pct(rounds, 99), 1), "n": len(rounds)},
            "http_probe_ms": {"p50": round(pct(http, 50), 2), "p99": round(pct(http, 99), 2), "n": len(http),
                              "not_counted": len(uncounted), "p99_all_answers": round(pct(raw, 99), 2)},
            "false_downs": sum(1 for e in changes if e.new in ("down", "unreachable")),
            "status_changes": [f"{e.host} {e.service or 'reach'} {e.old} -> {e.new}: {e.detail}" for e in changes],
            "rss_mb_max": round(max((r for t, r in self.rss if t0 <= t <= t1), default=0) / 2**20, 1),
        }


def finished_on_screen(app: CockpitApp, run_id: int, hosts: list[str]) -> set[str]:
    pane = app.dashboard.query_one("#output", OutputPane)
    if pane.run is None or pane.run.id != run_id:
        return set()
    done = set()
    for h in hosts:  # the pane writes a host's "── ok …" line when it shows the host finished
        log = pane._log(h)
        if log is not None and any(strip.text.startswith("── ") for strip in log.lines):
            done.add(h)
    return done


async def flood(app: CockpitApp, probe: Probe, quiet: float, big_mb: int) -> dict[str, Any]:
    proc = psutil.Process()
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        app.set_interval(0.05, probe.tick)

        async def sample() -> None:
            while True:
                probe.rss.append((time.monotonic(), proc.memory_info().rss))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        await pilot.pause(6)  # connect and settle
        q0 = time.monotonic()
        await asyncio.sleep(quiet)
        q1 = time.monotonic()
        out["quiet"] = probe.window(q0, q1)
        out["loadavg1_quiet"] = round(os.getloadavg()[0], 2)  # the machine is shared: read figures with it
        actions = app.engine.actions
        end = "; date +%s.%N"
        small = await actions.start("flood seq", "seq 1 200000" + end, ["h1", "h2", "h3"], timeout=600)
        big = await actions.start("flood big", f"head -c {big_mb * 1000000} /dev/zero | tr '\\0' x | fold -w 100; echo{end}",
                            ["h4"], timeout=600)
        seen: dict[str, float] = {}
        deadline = time.monotonic() + 600
        shown = {small.id: ["h1", "h2", "h3"], big.id: ["h4"]}
        while (actions.running() or len(seen) < 1) and time.monotonic() < deadline:
            for run_id, hosts in shown.items():
                for h in finished_on_screen(app, run_id, hosts) - set(seen):
                    seen[h] = time.time()
            await asyncio.sleep(0.05)
        f1 = time.monotonic()
        await asyncio.sleep(5)
        out["flood"] = probe.window(q1, time.monotonic())
        out["flood"]["action_seconds"] = round(f1 - q1, 1)
        lags: dict[str, float] = {}
        for run in (r for r in actions.history if r.id in shown):
            for r in run.runs:
                last = r.output.rstrip("\n").rsplit("\n", 1)[-1]
                try:
                    remote_end = float(last)
                except ValueError:
                    continue
                if r.host in seen:  # the last action shown is the big one; the pane showed only it
                    lags[r.host] = round(seen[r.host] - remote_end, 2)
                else:  # finished in the engine (its action was not on screen)
                    lags[r.host] = round((r.ended or time.time()) - remote_end, 2)
        out["flood"]["finish_lag_s_max"] = max(lags.values()) if lags else None
        out["flood"]["finish_lag_s"] = lags
        out["flood"]["states"] = [f"{r.host}={r.state} {r.lines} lines, {r.dropped} dropped"
                                  for run in actions.history if run.id in shown for r in run.runs]
        out["loadavg1_flood"] = round(os.getloadavg()[0], 2)
        sampler.cancel()
    q, f = out["quiet"], out["flood"]
    out["probe_p99_ratio"] = round(f["http_probe_ms"]["p99"] / q["http_probe_ms"]["p99"], 2) if q["http_probe_ms"]["p99"] else None
    out["round_p99_ratio"] = round(f["round_ms"]["p99"] / q["round_ms"]["p99"], 2) if q["round_ms"]["p99"] else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quiet-seconds", type=float, default=20)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--out", default="b7_flood")
    a = ap.parse_args()
    server = subprocess.Popen([sys.executable, str(Path(__file__).parent / "http_server.py"), "--ports", "1",
                               "--paths", "10"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = json.loads(server.stdout.readline())["ports"][0]
        with Fleet(HOSTS) as fleet, tempfile.TemporaryDirectory() as tmp:
            for h in fleet.hosts:
                fleet.set_systemd(h, "fleet-agent", "active running")
            path = write_config(Path(tmp), fleet, SERVICES.replace("{port}", str(port)).replace("22000", str(port)), cockpit={"interval": "1s"})
            app = CockpitApp(Engine(load_config(path)), quiet=True)
            res = asyncio.run(flood(app, Probe(app), a.quiet_seconds, a.big_mb))
    finally:
        server.terminate()
        server.wait(timeout=10)
    res = {"hosts": HOSTS, "services": HOSTS * 4, "big_mb": a.big_mb, **res}
    log(res)
    write_result(a.out, {"versions": versions(peers=False), **res})


if __name__ == "__main__":
    main()
