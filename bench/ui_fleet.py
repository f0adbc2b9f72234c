"""The cockpit UI on a live loopback fleet: time to apply one snapshot, and idle CPU.

Usage: .venv/bin/python bench/ui_fleet.py [--hosts 3] [--seconds 30] [--interval 5]
Runs the real App headless (Textual's run_test) against N sshd hosts; prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cockpitcfg import write_config  # noqa: E402
from fleet import Fleet  # noqa: E402

from cockpit.config import load_config  # noqa: E402
from cockpit.engine import Engine  # noqa: E402
from screens.app import CockpitApp  # noqa: E402

SERVICES = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"
[services.shell]
on = ["all"]
command = "true"
[services.sshd-port]
on = ["all"]
process = "sshd"
"""


async def run(path: Path, seconds: float) -> dict[str, object]:
    app = CockpitApp(Engine(load_config(path)), quiet=True)
    timings: list[float] = []
    original = app.dashboard.apply

    def timed(snap):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        original(snap)
        timings.append(time.perf_counter() - t0)

    app.dashboard.apply = timed  # type: ignore[method-assign]
    proc = psutil.Process()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(3)  # connect and settle
        c0, t0 = proc.cpu_times(), time.monotonic()
        n0 = len(timings)
        await asyncio.sleep(seconds)
        c1, t1 = proc.cpu_times(), time.monotonic()
        rss = proc.memory_info().rss
        applied = timings[n0:]
    cpu = (c1.user + c1.system - c0.user - c0.system) / (t1 - t0) * 100
    ms = sorted(x * 1000 for x in applied)
    return {"cpu_pct_of_one_core": round(cpu, 2), "snapshots_applied": len(ms),
            "apply_ms_p50": round(statistics.median(ms), 3) if ms else None,
            "apply_ms_max": round(max(ms), 3) if ms else None, "rss_mb": round(rss / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--interval", default="5s")
    args = ap.parse_args()
    with Fleet(args.hosts) as fleet, tempfile.TemporaryDirectory() as tmp:
        for h in fleet.hosts:
            fleet.set_systemd(h, "fleet-agent", "active running")
        path = write_config(Path(tmp), fleet, SERVICES, cockpit={"interval": args.interval})
        out = asyncio.run(run(path, args.seconds))
    print(json.dumps({"hosts": args.hosts, "interval": args.interval, "seconds": args.seconds, **out}, indent=2))


if __name__ == "__main__":
    main()
