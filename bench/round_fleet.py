"""One round over a loopback test fleet, cold (new connections) and warm (reused).

Usage: .venv/bin/python bench/round_fleet.py [--hosts 3] [--checks 5] [--warm 20]
Prints JSON with the versions used and the timings (seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cockpitcfg import write_config  # noqa: E402
from fleet import Fleet  # noqa: E402

from cockpit.config import load_config  # noqa: E402
from cockpit.engine import Engine  # noqa: E402


def versions() -> dict[str, str]:
    import asyncssh
    import cryptography

    sshd = subprocess.run(["/usr/sbin/sshd", "-V"], capture_output=True, text=True).stderr.strip()
    return {"python": platform.python_version(), "asyncssh": asyncssh.__version__,
            "cryptography": cryptography.__version__, "openssh": sshd.split(",")[0]}


async def measure(path: Path, warm_rounds: int) -> dict[str, object]:
    async with Engine(load_config(path)) as engine:
        t0 = time.perf_counter()
        snap = await engine.run_round()
        cold = time.perf_counter() - t0
        bad = [h.name for h in snap.hosts if not h.reachable]
        warm = []
        for _ in range(warm_rounds):
            t0 = time.perf_counter()
            await engine.run_round()
            warm.append(time.perf_counter() - t0)
    return {"cold_s": round(cold, 4), "warm_p50_s": round(statistics.median(warm), 4),
            "warm_max_s": round(max(warm), 4), "unreachable": bad}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--checks", type=int, default=5)
    ap.add_argument("--warm", type=int, default=20)
    args = ap.parse_args()
    services = "\n".join(
        f'[services.c{i}]\non = ["all"]\ncommand = "echo ok{i}"\nexpect_stdout = "ok{i}"\n' for i in range(args.checks)
    )
    with Fleet(args.hosts) as fleet, tempfile.TemporaryDirectory() as tmp:
        path = write_config(Path(tmp), fleet, services, ssh={"connect_timeout": "10s"})
        result = asyncio.run(measure(path, args.warm))
    print(json.dumps({"hosts": args.hosts, "checks_per_host": args.checks, **result, "versions": versions()}, indent=2))


if __name__ == "__main__":
    main()
