"""B3 HTTP checks: 1,000 endpoints on loopback, the engine against bare httpx and raw asyncio sockets.

Usage: .venv/bin/python bench/b3_http.py --endpoints 1000 --rounds 7 [--concurrency 10,20,50,100] [--out b3_http]

The server (bench/http_server.py) runs in its own process, keep-alive, in two layouts (``--origins``):
4 ports with 250 paths each (connections can be reused across rounds), and 1,000 ports (1,000 origins,
like checks spread over many hosts: a pool of c connections cannot keep them, each probe connects).
Scenarios, each over the 1,000 URLs, ``--rounds`` times (round 1 opens connections: "cold";
the others reuse them: "warm"), for each concurrency:

- engine-round: Engine.run_round() of a config with one local host and 1,000 http services
  (the whole round: judging, results, history); the engine's HttpProber with that concurrency.
- prober: HttpProber.probe() for the 1,000 checks under one gather (what a round does for them).
- httpx: one httpx.AsyncClient (limits: max_connections=c, keep-alive c), an outer asyncio.Semaphore(c),
  client.get(url) and a status check; the best bare httpx found.
- httpx-fast: the same, with httpcore's per-request ``import sniffio`` (a failed import when sniffio is not
  installed, which searches sys.path every time) turned into a cached failure.
- raw: the floor: c asyncio workers, each with one keep-alive connection per port, writing
  ``GET`` and reading the response by Content-Length by hand.
- raw-close: raw sockets with a new connection per request.

Each (scenario, concurrency) runs in a fresh process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BENCH, PROJECT_PY, log, pct, raise_nofile, versions, write_result

sys.path.insert(0, str(BENCH.parent))


def start_server(endpoints: int, ports: int = 4) -> tuple[subprocess.Popen[bytes], list[int]]:
    proc = subprocess.Popen([str(PROJECT_PY), str(BENCH / "http_server.py"), "--ports", str(ports), "--paths",
                             str(endpoints)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    ports_list = json.loads(proc.stdout.readline())["ports"]
    return proc, ports_list


def urls_for(ports: list[int], endpoints: int) -> list[str]:
    return [f"http://127.0.0.1:{ports[i % len(ports)]}/ep/{i}" for i in range(endpoints)]


async def rounds_of(fn: Any, rounds: int) -> tuple[list[float], list[float], int]:
    times, cpus, ok = [], [], 0
    for _ in range(rounds):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        ok = await fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return times, cpus, ok


# -- the engine ---------------------------------------------------------------------------------------------


def engine_config(tmp: Path, urls: list[str]) -> Path:
    lines = ['[cockpit]\ntitle = "B3"\ninterval = "5s"\n', '[hosts.here]\ntransport = "local"\n']
    for i, u in enumerate(urls):
        lines.append(f'[services.ep{i}]\non = ["all"]\nhttp = "{u}"\nexpect_body = "ok"\n')
    path = tmp / "b3.toml"
    path.write_text("\n".join(lines))
    return path


async def engine_round(config_path: Path, c: int, rounds: int) -> tuple[list[float], list[float], int]:
    from cockpit.checks import HttpProber
    from cockpit.config import load_config
    from cockpit.engine import Engine

    engine = Engine(load_config(config_path))
    if c != 20:  # the engine's own setting is HttpProber() = 20; other values for the sweep
        await engine.prober.aclose()
        engine.prober = HttpProber(c)
        for p in engine.pollers.values():
            p.prober = engine.prober

    async def one() -> int:
        snap = await engine.run_round()
        return sum(1 for r in snap.hosts[0].results if r.status == "up")

    try:
        return await rounds_of(one, rounds)
    finally:
        await engine.aclose()


async def prober_gather(urls: list[str], c: int, rounds: int) -> tuple[list[float], list[float], int]:
    from cockpit.checks import HttpProber
    from cockpit.spec import HttpCheck

    prober = HttpProber(c)
    checks = [HttpCheck(url=u, expect_body="ok") for u in urls]

    async def one() -> int:
        res = await asyncio.gather(*(prober.probe(ch, 10.0) for ch in checks))
        return sum(1 for v, _ in res if v.status == "up")

    try:
        return await rounds_of(one, rounds)
    finally:
        await prober.aclose()


# -- bare httpx --------------------------------------------------------------------------------------------


async def httpx_gather(urls: list[str], c: int, rounds: int) -> tuple[list[float], list[float], int]:
    import httpx

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    client = httpx.AsyncClient(limits=limits, trust_env=False, timeout=10.0)
    sem = asyncio.Semaphore(c)

    async def get(u: str) -> bool:
        async with sem:
            r = await client.get(u)
            return r.status_code == 200 and b"ok" in r.content

    async def one() -> int:
        return sum(await asyncio.gather(*(get(u) for u in urls)))

    try:
        return await rounds_of(one, rounds)
    finally:
        await client.aclose()


# -- raw asyncio sockets (the floor) --------------------------------------------------------------------------


async def raw_gather(urls: list[str], c: int, rounds: int) -> tuple[list[float], list[float], int]:
    parsed = []
    for u in urls:
        rest = u.split("//", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        parsed.append((host, int(port), "/" + path))
    conns: list[dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = [{} for _ in range(c)]

    async def worker(w: int, queue: list[tuple[str, int, str]], out: list[int]) -> None:
        mine = conns[w]
        while queue:
            host, port, path = queue.pop()
            pair = mine.get((host, port))
            if pair is None:
                pair = await asyncio.open_connection(host, port)
                mine[(host, port)] = pair
            reader, writer = pair
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            out.append(head.startswith(b"HTTP/1.1 200") and body.startswith(b"ok"))

    async def one() -> int:
        queue = list(parsed)
        out: list[int] = []
        await asyncio.gather(*(worker(w, queue, out) for w in range(c)))
        return sum(out)

    try:
        return await rounds_of(one, rounds)
    finally:
        for mine in conns:
            for _, writer in mine.values():
                writer.close()


async def httpx_fast_gather(urls: list[str], c: int, rounds: int) -> tuple[list[float], list[float], int]:
    """Bare httpx with httpcore's per-request ``import sniffio`` made cheap (see docs/performance.md, B3)."""
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    return await httpx_gather(urls, c, rounds)


async def raw_close_gather(urls: list[str], c: int, rounds: int) -> tuple[list[float], list[float], int]:
    """Raw sockets without keep-alive: a new connection per request (what a cold round pays)."""
    sem = asyncio.Semaphore(c)

    async def get(u: str) -> bool:
        hostport, path = u.split("//", 1)[1].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        async with sem:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
            return data.startswith(b"HTTP/1.1 200") and b"\r\n\r\nok" in data

    async def one() -> int:
        return sum(await asyncio.gather(*(get(u) for u in urls)))

    return await rounds_of(one, rounds)


SCENARIOS = {"engine-round": None, "prober": prober_gather, "httpx": httpx_gather, "httpx-fast": httpx_fast_gather,
             "raw": raw_gather, "raw-close": raw_close_gather}


def one_scenario(name: str, c: int, rounds: int, ports: list[int], endpoints: int) -> dict[str, Any]:
    """Run in a fresh process (``--one``): no scenario inherits another's imports or connections."""
    urls = urls_for(ports, endpoints)
    with tempfile.TemporaryDirectory(prefix="bench-b3-") as tmp:
        if name == "engine-round":
            coro = engine_round(engine_config(Path(tmp), urls), c, rounds)
        else:
            coro = SCENARIOS[name](urls, c, rounds)  # type: ignore[misc]
        try:
            times, cpus, ok = asyncio.run(coro)
        except Exception as exc:  # e.g. httpx.PoolTimeout: recorded, the sweep goes on
            return {"error": repr(exc)[:300]}
    warm = times[1:] or times
    wcpu = cpus[1:] or cpus
    return {"cold_s": round(times[0], 4), "warm_median_s": round(sorted(warm)[len(warm) // 2], 4),
            "warm_p99_s": round(pct(warm, 99), 4), "warm_min_s": round(min(warm), 4),
            "cpu_s_median": round(sorted(wcpu)[len(wcpu) // 2], 4), "ok": ok, "rounds": len(times),
            "sniffio_import_cached": sys.modules.get("sniffio", "absent") is None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--concurrency", default="10,20,50,100")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--origins", default="4,1000", help="server ports (URL i goes to port i mod ports)")
    ap.add_argument("--out", default="b3_http")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--ports", help=argparse.SUPPRESS)
    a = ap.parse_args()
    raise_nofile()
    if a.one:
        name, c = a.one.rsplit(":", 1)
        print(json.dumps(one_scenario(name, int(c), a.rounds, json.loads(a.ports), a.endpoints)))
        return
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for origins in [int(x) for x in a.origins.split(",")]:
        server, ports = start_server(a.endpoints, origins)
        log(f"B3: {a.endpoints} endpoints on {origins} port(s)")
        rows_o = results.setdefault(str(origins), {})
        try:
            for c in [int(x) for x in a.concurrency.split(",")]:
                for name in a.scenarios.split(","):
                    if name.startswith("raw") and c not in (10, 100) and "10" in a.concurrency.split(","):
                        continue  # the floor: a couple of settings are enough
                    out = subprocess.run([str(PROJECT_PY), __file__, "--one", f"{name}:{c}", "--ports", json.dumps(ports),
                                          "--rounds", str(a.rounds), "--endpoints", str(a.endpoints)],
                                         capture_output=True, text=True, timeout=900)
                    try:
                        row = json.loads(out.stdout.strip().splitlines()[-1])
                    except (IndexError, json.JSONDecodeError):
                        row = {"error": out.stderr[-500:]}
                    rows_o.setdefault(name, {})[str(c)] = row
                    if "error" in row:
                        log(f"  {name:12s} c={c:3d} {row['error'][:200]}")
                    else:
                        log(f"  {name:12s} c={c:3d} cold {row['cold_s']:.3f}s warm {row['warm_median_s']:.3f}s "
                            f"(p99 {row['warm_p99_s']:.3f}) cpu {row['cpu_s_median']:.3f}s ok {row['ok']}/{a.endpoints}")
        finally:
            assert server.stdin is not None
            server.stdin.close()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    best: dict[str, dict[str, Any]] = {}
    for origins, by_name in results.items():
        for name, rows in by_name.items():
            good = {c: r for c, r in rows.items() if "warm_median_s" in r and r["ok"] == a.endpoints}
            if good:
                c = min(good, key=lambda k: good[k]["warm_median_s"])
                best.setdefault(origins, {})[name] = {"concurrency": int(c), **good[c]}
    write_result(a.out, {"endpoints": a.endpoints, "rounds": a.rounds,
                         "server": "bench/http_server.py: keep-alive, its own process; results by number of ports (origins)",
                         "versions": versions(peers=False), "best": best, "results": results})


if __name__ == "__main__":
    main()
