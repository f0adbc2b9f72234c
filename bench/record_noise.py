"""Record real latency series for the regression rule's tests (tests/data/latency_series.json).

The cockpit's own prober (cockpit.checks.HttpProber) probes a loopback HTTP server while a CPU hog
shares the prober's core (``taskset``), as on an operator's busy laptop:

- ``noise``: the server answers after a fixed delay the whole time: nothing changes, so the rule
  must never call any window of it a regression;
- ``shifted``: the same, then the delay becomes 3x + 50 ms (the issue's injected regression).

Usage: python bench/record_noise.py [--seconds 180] [--interval 0.2] [-o tests/data/latency_series.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit.checks import HttpProber  # noqa: E402
from cockpit.spec import HttpCheck  # noqa: E402

DELAY = {"value": 0.02}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        time.sleep(DELAY["value"])
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


async def _series(prober: HttpProber, check: HttpCheck, seconds: float, interval: float) -> list[float]:
    out: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        verdict, latency = await prober.probe(check, 5.0)
        if latency is not None and verdict.status == "up":
            out.append(round(latency, 6))
        await asyncio.sleep(interval)
    return out


async def record(seconds: float, interval: float) -> dict[str, object]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    check = HttpCheck(url=f"http://127.0.0.1:{server.server_address[1]}/")
    prober = HttpProber()
    try:
        base_delay = DELAY["value"]
        noise = await _series(prober, check, seconds, interval)
        before = await _series(prober, check, seconds / 2, interval)
        DELAY["value"] = base_delay * 3 + 0.05
        after = await _series(prober, check, seconds / 2, interval)
    finally:
        await prober.aclose()
        server.shutdown()
    return {"recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": platform.machine(),
            "cpus": os.cpu_count(), "interval_s": interval, "server_delay_s": base_delay,
            "noise": noise, "shifted": {"before": before, "after": after}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("-o", "--output", default=str(ROOT / "tests" / "data" / "latency_series.json"))
    args = ap.parse_args()
    os.sched_setaffinity(0, {0})
    hog = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
    try:
        data = asyncio.run(record(args.seconds, args.interval))
    finally:
        hog.kill()
        hog.wait()
    data["hog"] = "a busy loop pinned to the prober's core (taskset -c 0)"
    Path(args.output).write_text(json.dumps(data) + "\n")
    print(f"{args.output}: {len(data['noise'])} noise samples, "  # type: ignore[arg-type]
          f"{len(data['shifted']['before'])} + {len(data['shifted']['after'])} shifted")  # type: ignore[index]
    return 0


if __name__ == "__main__":
    sys.exit(main())
