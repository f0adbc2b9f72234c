"""B4 UI: the dashboard fed with rounds of N hosts x 5 services; apply+render time, idle CPU, RSS.

Usage:
  .venv/bin/python bench/b4_ui.py feed --hosts 500 --rounds 120 --every 1.0       # apply p50/p99, RSS
  .venv/bin/python bench/b4_ui.py idle --hosts 50 --seconds 60 --every 5.0        # fed, nothing else runs
  .venv/bin/python bench/b4_ui.py live --hosts 50 --seconds 60 --interval 5s      # real engine + sshd fleet

feed: CockpitApp(engine, live=False) headless (run_test, 160x48); one SnapshotReady per round with every
host changed (load moves every round, so every CPU/Mem sparkline cell changes; ~0.2 % of checks flip
status per round, which adds events). Per round, the main thread's time to take the round in:
``DashboardScreen.apply`` plus every screen update (Textual's compositor refresh) until the next round.
Headless Textual skips turning the compositor's update into terminal output; the bench does that
conversion too (``render_segments``, what a real terminal driver would write) and counts it.
``--gc app`` (default) measures the app as it runs: it raises the GC threshold and freezes start-up's
objects itself (screens/app.py); ``--gc python`` puts Python's defaults back after the first round.
idle: the same app fed a round every ``--every`` seconds; CPU of the process over ``--seconds``.
live: the real app and engine (live=True) against a loopback sshd fleet: the cockpit process's CPU, and each
applied snapshot's apply + render (until the next one) p50/p99 (issue 22); ``--gc python`` as in feed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import psutil

from common import ROOT, log, pct, versions, write_result

sys.path.insert(0, str(ROOT))

from cockpit.config import load_config  # noqa: E402
from cockpit.model import CheckResult, FleetSnapshot, HostState, Load, StatusChange  # noqa: E402
from cockpit.engine import Engine  # noqa: E402
from screens.app import CockpitApp  # noqa: E402
from screens.messages import SnapshotReady  # noqa: E402

SERVICES = ["agent", "web", "db-conn", "queue", "health"]
SIZE = (160, 48)


def config_for(tmp: Path, n: int, interval: str = "1s") -> Path:
    lines = ["[cockpit]", 'title = "B4 bench"', f'interval = "{interval}"', ""]
    for i in range(n):
        lines += [f"[hosts.h{i + 1:03d}]", 'address = "127.0.0.1"', f"port = {20000 + i}", 'tags = ["fleet"]', ""]
    for s in SERVICES:
        lines += [f"[services.{s}]", 'on = ["all"]', f'command = "true {s}"', ""]
    path = tmp / "b4.toml"
    path.write_text("\n".join(lines))
    return path


class Synth:
    """Rounds as the engine would publish them: every host's load moves, a few checks flip."""

    def __init__(self, names: list[str], flip: float = 0.002, seed: int = 1) -> None:
        self.names = names
        self.rng = random.Random(seed)
        self.flip = flip
        self.hist = {n: deque(maxlen=120) for n in names}
        self.cpu = {n: self.rng.uniform(5, 60) for n in names}
        self.status = {(n, s): "up" for n in names for s in SERVICES}
        self.since = {(n, s): time.time() for n in names for s in SERVICES}
        self.round = 0

    def next(self, changed_all: bool = True) -> FleetSnapshot:
        self.round += 1
        now = time.time()
        rng = self.rng
        hosts, events = [], []
        for n in self.names:
            c = min(99.0, max(0.5, self.cpu[n] + rng.uniform(-8, 8)))
            self.cpu[n] = c
            load = Load(at=now, cpu=round(c, 1), mem=round(30 + c / 3, 1), mem_total_kb=8_000_000,
                        load1=round(c / 50, 2), load5=0.5, load15=0.4, disks=(("/", 41.0),), ncpu=2)
            self.hist[n].append(load)
            results = []
            for s in SERVICES:
                key = (n, s)
                if rng.random() < self.flip:
                    old = self.status[key]
                    new = "down" if old == "up" else "up"
                    self.status[key], self.since[key] = new, now
                    events.append(StatusChange(now, n, s, old, new, f"exit {int(new == 'down')}"))
                st = self.status[key]
                results.append(CheckResult(service=s, host=n, kind="command", status=st,  # type: ignore[arg-type]
                                           detail="exit 0" if st == "up" else "exit 1", latency=None, at=now,
                                           since=self.since[key]))
            hosts.append(HostState(name=n, reach="ok", load=load, history=tuple(self.hist[n]), results=tuple(results),
                                   round_started=now - 0.2, round_ended=now, tags=("fleet",)))
        return FleetSnapshot(title="B4 bench", at=now, hosts=tuple(hosts), round=self.round,
                             changed=tuple(self.names) if changed_all else (), events=tuple(events))


class Timings:
    """Main-thread time spent taking each round in: apply, then every screen update until the next round.

    Also the time Python's cyclic garbage collector runs (gc.callbacks), which lands wherever it strikes.
    """

    def __init__(self, app: CockpitApp) -> None:
        import gc

        from textual.screen import Screen

        self.gc: list[tuple[float, float, int]] = []  # (start, duration, generation)
        gc_start: list[float] = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_start[0] = time.perf_counter()
            else:
                self.gc.append((gc_start[0], time.perf_counter() - gc_start[0], info["generation"]))

        gc.callbacks.append(on_gc)
        self.apply: list[float] = []
        self.apply_at: list[float] = []  # when each apply started (live: rounds are not the bench's own)
        self.apply_cpu: list[float] = []  # the main thread's CPU time in the same calls (immune to other processes)
        self.updates: list[tuple[float, float]] = []  # (start, duration)
        self.updates_cpu: list[tuple[float, float]] = []  # (start, main thread's CPU time)
        original_apply = app.dashboard.apply

        def apply(snap):  # type: ignore[no-untyped-def]
            t0, c0 = time.perf_counter(), time.thread_time()
            original_apply(snap)
            self.apply_at.append(t0)
            self.apply.append(time.perf_counter() - t0)
            self.apply_cpu.append(time.thread_time() - c0)

        app.dashboard.apply = apply  # type: ignore[method-assign]
        original_update = Screen._on_timer_update
        timings = self

        def on_timer_update(screen):  # type: ignore[no-untyped-def]
            t0, c0 = time.perf_counter(), time.thread_time()
            original_update(screen)
            timings.updates.append((t0, time.perf_counter() - t0))
            timings.updates_cpu.append((t0, time.thread_time() - c0))

        Screen._on_timer_update = on_timer_update  # type: ignore[method-assign]
        original_display = app._display

        def display(screen, renderable):  # type: ignore[no-untyped-def]
            from textual._compositor import CompositorUpdate

            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # what the terminal driver would write
            return original_display(screen, renderable)

        app._display = display  # type: ignore[method-assign]


async def feed(n: int, rounds: int, every: float, flip: float, gc_mode: str = "app") -> dict[str, Any]:
    import gc

    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(load_config(config_for(Path(tmp), n)))
    app = CockpitApp(engine, live=False, quiet=True)
    synth = Synth([h.name for h in engine.config.hosts], flip)
    timings = Timings(app)
    proc = psutil.Process()
    per_round: list[dict[str, float]] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.post_message(SnapshotReady(synth.next()))  # the first round builds the rows: not measured
        await asyncio.sleep(max(every, 1.0))
        if gc_mode == "python":  # undo the app's own tuning: Python's default collector
            gc.unfreeze()
            gc.set_threshold(700, 10, 10)
        c0, w0 = proc.cpu_times(), time.monotonic()
        for _ in range(rounds):
            snap = synth.next()
            a0 = len(timings.apply)
            start = time.perf_counter()
            t_main = time.thread_time()
            app.post_message(SnapshotReady(snap))
            await asyncio.sleep(every)
            end = time.perf_counter()
            upd = [d for (t, d) in timings.updates if start <= t < end]
            upd_cpu = [d for (t, d) in timings.updates_cpu if start <= t < end]
            gcs = [d for (t, d, _) in timings.gc if start <= t < end]
            applied = timings.apply[a0:]
            per_round.append({"apply_ms": sum(applied) * 1000, "render_ms": sum(upd) * 1000,
                              "cpu_ms": (sum(timings.apply_cpu[a0:]) + sum(upd_cpu)) * 1000,
                              "gc_ms": sum(gcs) * 1000,
                              "main_thread_cpu_ms": (time.thread_time() - t_main) * 1000, "updates": len(upd)})
        c1, w1 = proc.cpu_times(), time.monotonic()
        rss = proc.memory_info().rss
    total = [r["apply_ms"] + r["render_ms"] for r in per_round]
    return {
        "hosts": n, "services": len(SERVICES), "rounds": rounds, "every_s": every, "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "gc_mode": gc_mode,
        "apply_plus_render_ms": {"p50": round(pct(total, 50), 2), "p99": round(pct(total, 99), 2), "max": round(max(total), 2)},
        # the same calls' main-thread CPU time: what the UI itself costs, without the waits for a core that
        # other processes on a shared machine add to the wall-clock figure above
        "apply_plus_render_cpu_ms": {"p50": round(pct([r["cpu_ms"] for r in per_round], 50), 2),
                                     "p99": round(pct([r["cpu_ms"] for r in per_round], 99), 2),
                                     "max": round(max(r["cpu_ms"] for r in per_round), 2)},
        "apply_ms": {"p50": round(pct([r["apply_ms"] for r in per_round], 50), 2),
                     "p99": round(pct([r["apply_ms"] for r in per_round], 99), 2)},
        "render_ms": {"p50": round(pct([r["render_ms"] for r in per_round], 50), 2),
                      "p99": round(pct([r["render_ms"] for r in per_round], 99), 2)},
        "main_thread_cpu_ms_per_round": {"p50": round(pct([r["main_thread_cpu_ms"] for r in per_round], 50), 2),
                                         "p99": round(pct([r["main_thread_cpu_ms"] for r in per_round], 99), 2)},
        "gc_ms_per_round": {"p50": round(pct([r["gc_ms"] for r in per_round], 50), 2),
                            "p99": round(pct([r["gc_ms"] for r in per_round], 99), 2),
                            "max": round(max(r["gc_ms"] for r in per_round), 2)},
        "gc_gen2_runs": sum(1 for (t, _, g) in timings.gc if g == 2),
        "apply_plus_render_ms_rounds_without_gc": {
            "p50": round(pct([r["apply_ms"] + r["render_ms"] for r in per_round if r["gc_ms"] < 1] or [0], 50), 2),
            "p99": round(pct([r["apply_ms"] + r["render_ms"] for r in per_round if r["gc_ms"] < 1] or [0], 99), 2)},
        "cpu_pct_of_one_core": round((c1.user + c1.system - c0.user - c0.system) / (w1 - w0) * 100, 2),
        "rss_mb": round(rss / 2**20, 1),
    }


def per_snapshot(timings: Timings, start: float, end: float, cpu: bool = False) -> list[float]:
    """Live: each applied snapshot's apply plus every screen update until the next one, in ms.

    ``cpu``: the main thread's CPU time in the same calls instead of wall time (what the UI itself costs,
    without the waits for a core that 500 sshd on the same 2 cores add).
    """
    applied = timings.apply_cpu if cpu else timings.apply
    updates = timings.updates_cpu if cpu else timings.updates
    starts = [(t, d) for t, d in zip(timings.apply_at, applied, strict=True) if start <= t < end]
    out = []
    for i, (t, d) in enumerate(starts):
        nxt = starts[i + 1][0] if i + 1 < len(starts) else end
        out.append((d + sum(u for (ut, u) in updates if t <= ut < nxt)) * 1000)
    return out


async def live(n: int, seconds: float, interval: str, gc_mode: str = "app") -> dict[str, Any]:
    import gc

    from cockpitcfg import write_config

    from common import BenchFleet
    from peers import SERVICES_B2

    with BenchFleet(n) as fleet, tempfile.TemporaryDirectory() as tmp:
        for h in fleet.hosts:
            fleet.set_systemd(h, "fleet-agent", "active running")
            fleet.set_docker(h, "web", "running healthy 0")
        path = write_config(Path(tmp), fleet, SERVICES_B2, cockpit={"interval": interval},
                            ssh={"connect_timeout": "10s", "max_startups": 16})
        app = CockpitApp(Engine(load_config(path)), quiet=True)
        timings = Timings(app)
        proc = psutil.Process()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(8)
            settle = time.monotonic() + 120  # every host connected (500 on a busy machine: a minute or more)
            while time.monotonic() < settle and sum(1 for h in (app.snapshot.hosts if app.snapshot else ())
                                                     if h.reachable) < n:
                await pilot.pause(1)
            await pilot.pause(2 * float(interval.rstrip("s")))  # two full rounds of every host
            if gc_mode == "python":  # undo the app's own tuning: Python's default collector
                gc.unfreeze()
                gc.set_threshold(700, 10, 10)
            a0 = len(timings.apply)
            start = time.perf_counter()
            c0, w0 = proc.cpu_times(), time.monotonic()
            await asyncio.sleep(seconds)
            c1, w1 = proc.cpu_times(), time.monotonic()
            rss = proc.memory_info().rss
            applied = timings.apply[a0:]
            renders = [d for (t, d) in timings.updates if t >= start]
            snaps = per_snapshot(timings, start, time.perf_counter())
            snaps_cpu = per_snapshot(timings, start, time.perf_counter(), cpu=True)
            gc_ms = [d * 1000 for (t, d, _) in timings.gc if t >= start]
            gc_gens = [g for (t, _d, g) in timings.gc if t >= start]
            frozen = gc.get_freeze_count()
            reachable = sum(1 for h in (app.snapshot.hosts if app.snapshot else ()) if h.reachable)
    wall = w1 - w0
    return {"hosts": n, "interval": interval, "seconds": seconds, "reachable": reachable, "gc_mode": gc_mode,
            # the live path: engine and UI in one process, probes and rendering sharing one loop
            "apply_plus_render_ms": {"p50": round(pct(snaps, 50), 2), "p99": round(pct(snaps, 99), 2),
                                     "max": round(max(snaps, default=0), 2), "n": len(snaps)},
            "apply_plus_render_cpu_ms": {"p50": round(pct(snaps_cpu, 50), 2), "p99": round(pct(snaps_cpu, 99), 2),
                                         "max": round(max(snaps_cpu, default=0), 2)},
            "loadavg1": round(os.getloadavg()[0], 1),
            "gc_ms": {"total": round(sum(gc_ms), 1), "max": round(max(gc_ms, default=0), 1), "runs": len(gc_ms),
                      "generations": gc_gens, "frozen": frozen},
            "cpu_pct_of_one_core": round((c1.user + c1.system - c0.user - c0.system) / wall * 100, 2),
            # the UI's share: applying snapshots and every screen update, as % of one core
            "ui_apply_pct_of_one_core": round(sum(applied) / wall * 100, 2),
            "ui_render_pct_of_one_core": round(sum(renders) / wall * 100, 2),
            "screen_updates": len(renders), "snapshots_applied": len(applied), "rss_mb": round(rss / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["feed", "idle", "live"])
    ap.add_argument("--hosts", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--interval", default="5s")
    ap.add_argument("--flip", type=float, default=0.002, help="share of checks that flip status per round")
    ap.add_argument("--gc", default="app", choices=["app", "python"],
                    help="feed: the GC as the app tunes it, or Python's defaults put back after the first round")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.mode == "feed":
        res = asyncio.run(feed(a.hosts, a.rounds, a.every, a.flip, a.gc))
    elif a.mode == "idle":
        res = asyncio.run(feed(a.hosts, max(1, int(a.seconds / a.every)), a.every, a.flip))
        res = {k: res[k] for k in ("hosts", "every_s", "rounds", "cpu_pct_of_one_core", "rss_mb", "apply_plus_render_ms",
                                   "apply_plus_render_cpu_ms")}
        res["seconds"] = a.seconds
    else:
        res = asyncio.run(live(a.hosts, a.seconds, a.interval, a.gc))
    log(res)
    write_result(a.out or f"b4_ui_{a.mode}_{a.hosts}", {"mode": a.mode, "versions": versions(peers=False), **res})


if __name__ == "__main__":
    main()
