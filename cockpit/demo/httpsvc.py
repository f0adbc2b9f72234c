"""The demo's HTTP processes: ``v1`` and ``v2`` of a service, and ``lb`` splitting traffic between them.

Each reads its knobs from small files on every request, so a step script (the traffic
split) or the demo's fault key (v2's error rate and latency) changes it at run time:

    python -m cockpit.demo.httpsvc v1 --port 8101 --state DIR
    python -m cockpit.demo.httpsvc lb --port 8100 --state DIR --backends 8101,8102
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def knobs(state: Path, name: str) -> dict[str, float]:
    """``DIR/NAME.json``: {"error_rate": 0..1, "latency_ms": N}; missing or broken means healthy."""
    try:
        data = json.loads((state / f"{name}.json").read_text())
        return {"error_rate": float(data.get("error_rate", 0)), "latency_ms": float(data.get("latency_ms", 0))}
    except (OSError, ValueError):
        return {"error_rate": 0.0, "latency_ms": 0.0}


def split(state: Path) -> int:
    """Percent of traffic to v2, from ``DIR/split`` (written by the runbook's step script)."""
    try:
        return max(0, min(100, int((state / "split").read_text().strip() or 0)))
    except (OSError, ValueError):
        return 0


def make_handler(role: str, state: Path, backends: list[int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def _send(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Served-By", role)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if role == "lb":
                self._proxy()
                return
            k = knobs(state, role)
            base = 0.004 if role == "v1" else 0.002  # v2 is the faster one, until a fault says otherwise
            time.sleep(base + k["latency_ms"] / 1000.0)
            if random.random() < k["error_rate"]:
                self._send(500, f"{role}: injected failure\n")
            else:
                self._send(200, f"{role} ok\n")

        def _proxy(self) -> None:
            to_v2 = random.randrange(100) < split(state)
            port = backends[1] if to_v2 else backends[0]
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", self.path)
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace")
                conn.close()
                self._send(resp.status, body)
            except OSError as exc:
                self._send(502, f"lb: backend {port} unreachable: {exc}\n")

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(prog="cockpit.demo.httpsvc")
    ap.add_argument("role", choices=["v1", "v2", "lb"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--backends", default="")
    args = ap.parse_args()
    backends = [int(p) for p in args.backends.split(",") if p]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.role, args.state, backends))
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
