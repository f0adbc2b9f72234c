"""B6: the regression rule on a clean fleet with a CPU hog beside the cockpit, then injected regressions.

Issue 18's benchmark. The cockpit (its Engine, RegressionTracker and conditions, as a cockpit runs
them) probes loopback HTTP and TCP services on three local hosts every second. ``taskset`` pins the
cockpit and a busy-loop hog to core 0 and the services to core 1.

- soak: ``--soak`` seconds (default 1800) with nothing changing: every regression the tracker reports
  is a false alarm (the target is 0);
- detection: after a fresh baseline, each injection in turn (latency x3 + 50 ms on one service; 5 % of
  its answers HTTP 500; one service stopped), counting the rounds until the cockpit flags it (a latency
  or down regression; the gate condition ``error_rate(S) < 2%`` failing for the errors), against the
  window's minimum ([runbook] min_samples rounds).

Results: bench/results/b6_false_alarms.json. Usage: python bench/b6_false_alarms.py [--soak 1800] [--out NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cockpit.baseline import RegressionTracker, capture  # noqa: E402
from cockpit.conditions import evaluate, parse  # noqa: E402
from cockpit.config import load_config  # noqa: E402
from cockpit.engine import Engine  # noqa: E402
from cockpit.runbook import EngineContext  # noqa: E402

SERVICES = ("api", "web", "auth")


class _State:
    """The services' behaviour, set over HTTP (``/_set?svc=api&delay=0.11&errors=0.05``) by the bench."""

    delay = {s: 0.02 for s in SERVICES}
    error_share = {s: 0.0 for s in SERVICES}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/_set?"):
            q = dict(kv.split("=", 1) for kv in self.path.split("?", 1)[1].split("&"))
            _State.delay[q["svc"]] = float(q.get("delay", _State.delay[q["svc"]]))
            _State.error_share[q["svc"]] = float(q.get("errors", _State.error_share[q["svc"]]))
            self.send_response(204)
            self.end_headers()
            return
        svc = self.path.strip("/") or "api"
        time.sleep(_State.delay.get(svc, 0.02))
        bad = random.random() < _State.error_share.get(svc, 0.0)
        body = b"boom\n" if bad else b"ok\n"
        self.send_response(500 if bad else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve_forever(port_file: str) -> None:
    """The services' process (pinned to core 1 by the bench): HTTP on one port, TCP on another."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    async def tcp() -> None:
        srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        Path(port_file).write_text(f"{server.server_address[1]} {srv.sockets[0].getsockname()[1]}")
        await srv.serve_forever()

    asyncio.run(tcp())


def _set(port: int, svc: str, **values: float) -> None:
    import urllib.request

    query = "&".join([f"svc={svc}", *(f"{k}={v}" for k, v in values.items())])
    urllib.request.urlopen(f"http://127.0.0.1:{port}/_set?{query}", timeout=5).read()


def _config(tmp: Path, port: int, tcp_port: int) -> Path:
    lines = ['[cockpit]\ninterval = "1s"\n', '[runbook]\nwindow = "30s"\nmin_samples = 20\nregression_rounds = 2\n']
    for h in ("h1", "h2", "h3"):
        lines.append(f'[hosts.{h}]\ntransport = "local"\n')
    for s in SERVICES:
        lines.append(f'[services.{s}]\non = ["all"]\nhttp = "http://127.0.0.1:{port}/{s}"\n')
    lines.append(f'[services.db]\non = ["all"]\ntcp = {tcp_port}\ntcp_host = "127.0.0.1"\n')
    path = tmp / "b6.toml"
    path.write_text("\n".join(lines))
    return path


#: answers seen and their latencies counted / not counted (timed while the probing process waited for a CPU):
#: a soak whose latencies were mostly not counted would judge nothing, so its "0 false alarms" would be empty
SAMPLES = {"answers": 0, "counted": 0, "not_counted": 0}


async def _rounds(engine: Engine, tracker: RegressionTracker, seconds: float, stop=None):  # type: ignore[no-untyped-def]
    """Rounds a second apart for ``seconds`` (or until ``stop(round, regressions)`` is true); yields per round."""
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        began = time.monotonic()
        snap = await engine.run_round()
        for h in snap.hosts:
            tracker.observe(h)
            for r in h.results:
                if r.status == "up":
                    SAMPLES["answers"] += 1
                    SAMPLES["counted" if r.latency is not None else "not_counted"] += 1
        regs = tracker.current()
        n += 1
        if stop is not None and await stop(n, regs):
            return n
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
    return None


async def run(soak: float, out: dict[str, object], port: int, tcp_port: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="b6-"))
    config = load_config(_config(tmp, port, tcp_port))
    async with Engine(config) as engine:
        tracker = RegressionTracker(config, engine.history)
        ctx = EngineContext(engine)
        need = config.runbook.min_samples

        async def baseline() -> None:
            await _rounds(engine, tracker, need + 2)
            tracker.set_baseline(capture(engine.snapshot(), engine.history, config.runbook.window))

        await baseline()
        alarms: list[str] = []
        rounds = 0

        async def note(n: int, regs) -> bool:  # type: ignore[no-untyped-def]
            nonlocal rounds
            rounds = n
            alarms.extend(f"round {n}: {r.line()}" for r in regs)
            if n % 300 == 0:
                print(f"b6: soak round {n}, false alarms so far {len(alarms)}", flush=True)
            return False

        SAMPLES.update(answers=0, counted=0, not_counted=0)
        await _rounds(engine, tracker, soak, note)
        out["soak"] = {"seconds": soak, "rounds": rounds, "host_series": 3 * (len(SERVICES) + 1),
                       "false_alarms": len(alarms), "first_alarms": alarms[:20], "samples": dict(SAMPLES)}
        print(f"b6: soak samples: {SAMPLES}", flush=True)
        print(f"b6: soak done: {rounds} rounds, {len(alarms)} false alarms", flush=True)

        detection: dict[str, object] = {}
        for name, inject, heal, flagged in (
            ("latency x3 + 50 ms", lambda: _set(port, "api", delay=0.02 * 3 + 0.05),
             lambda: _set(port, "api", delay=0.02), lambda regs: any(r.service == "api" and r.kind == "slow"
                                                                     for r in regs)),
            ("5% HTTP 500", lambda: _set(port, "web", errors=0.05), lambda: _set(port, "web", errors=0.0), None),
            ("service stopped", lambda: _set(port, "auth", delay=30.0),
             lambda: _set(port, "auth", delay=0.02), lambda regs: any(r.service == "auth" and r.kind == "down"
                                                                      for r in regs)),
        ):
            await baseline()
            inject()

            async def seen(n: int, regs, flagged=flagged) -> bool:  # type: ignore[no-untyped-def]
                if flagged is not None:
                    return flagged(regs)
                v = await evaluate(parse("error_rate(web) < 2%"), ctx)
                return v.value is False

            SAMPLES.update(answers=0, counted=0, not_counted=0)
            n = await _rounds(engine, tracker, 600, seen)
            heal()
            detection[name] = {"rounds_to_flag": n, "window_minimum": need, "samples": dict(SAMPLES)}
            print(f"b6: {name}: flagged after {n} rounds (window minimum {need})", flush=True)
        out["detection"] = detection


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--soak", type=float, default=1800.0)
    ap.add_argument("--out", default="b6_false_alarms", help="result name: bench/results/NAME.json")
    ap.add_argument("--serve", metavar="PORT_FILE", help=argparse.SUPPRESS)  # the services' own process
    args = ap.parse_args()
    if args.serve:
        _serve_forever(args.serve)
        return 0
    port_file = Path(tempfile.mkdtemp(prefix="b6-ports-")) / "ports"
    services = subprocess.Popen(["taskset", "-c", "1", sys.executable, __file__, "--serve", str(port_file)])
    os.sched_setaffinity(0, {0})
    hog = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
    out: dict[str, object] = {"cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "pinning": "cockpit + busy-loop hog on core 0 (taskset -c 0), services on core 1"}
    try:
        for _ in range(100):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port, tcp_port = (int(x) for x in port_file.read_text().split())
        asyncio.run(run(args.soak, out, port, tcp_port))
    finally:
        for proc in (hog, services):
            proc.kill()
            proc.wait()
    (ROOT / "bench" / "results" / f"{args.out}.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
