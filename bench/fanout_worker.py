"""One in-process client fanning a command out over the bench fleet; prints one JSON line.

Run by bench/b1_fanout.py and bench/b2_warm.py, one fresh process per measurement:

  python bench/fanout_worker.py cold  TOOL SPEC.json COMMAND [--limit N]
  python bench/fanout_worker.py warm  TOOL SPEC.json SCRIPT_FILE --rounds K [--limit N]

TOOL: ``cockpit`` (Engine over the config in SPEC), ``asyncssh`` (bare asyncssh, the floor) or
``pssh-lib`` (parallel-ssh's ParallelSSHClient; run with the bench venv's python).
``fanout_s`` runs from the first client object to the last output collected; ``cpu_s`` is this
process's CPU over the same span (time.process_time: every thread).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _busy() -> float:
    """CPU seconds the whole machine has been busy (all cores): client + every sshd and its commands."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the cockpit engine ----------------------------------------------------------------------------------


async def cockpit_cold(spec: dict[str, Any], command: str) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from cockpit.config import load_config
    from cockpit.engine import Engine

    config = load_config(spec["cockpit_config"])
    t0, c0 = time.perf_counter(), time.process_time()
    async with Engine(config) as engine:
        names = [h.name for h in config.hosts]
        results = await asyncio.gather(*(engine.run_command(n, command, timeout=60) for n in names),
                                       return_exceptions=True)
        t1, c1 = time.perf_counter(), time.process_time()
    ok = sum(1 for r in results if not isinstance(r, BaseException) and r.ok and r.stdout.count(" ") == 4)
    errors = sorted({repr(r)[:200] for r in results if isinstance(r, BaseException)})[:3]
    return {"fanout_s": t1 - t0, "cpu_s": c1 - c0, "ok": ok, "errors": errors}


async def cockpit_warm(spec: dict[str, Any], rounds: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from cockpit.config import load_config
    from cockpit.engine import Engine

    config = load_config(spec["cockpit_config"])
    times, cpus, machine = [], [], []
    async with Engine(config) as engine:
        t0 = time.perf_counter()
        snap = await engine.run_round()
        first = time.perf_counter() - t0
        for _ in range(rounds):
            t0, c0, m0 = time.perf_counter(), time.process_time(), _busy()
            snap = await engine.run_round()
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            machine.append(_busy() - m0)
        ok = sum(1 for h in snap.hosts if h.reachable and h.load is not None and all(r.status == "up" for r in h.results))
    return {"first_round_s": first, "round_s": times, "round_cpu_s": cpus, "round_machine_cpu_s": machine, "ok": ok}


# -- bare asyncssh (the floor) ------------------------------------------------------------------------------


def _asyncssh_kwargs(spec: dict[str, Any], host: list[Any]) -> dict[str, Any]:
    return {"host": host[1], "port": host[2], "username": spec["user"], "client_keys": [spec["key"]],
            "known_hosts": spec["known_hosts"], "agent_path": None, "config": None, "preferred_auth": "publickey"}


async def asyncssh_cold(spec: dict[str, Any], command: str, limit: int) -> dict[str, Any]:
    import asyncssh

    sem = asyncio.Semaphore(limit) if limit else None

    async def one(host: list[Any]) -> str:
        if sem is not None:
            async with sem:
                conn = await asyncssh.connect(**_asyncssh_kwargs(spec, host))
        else:
            conn = await asyncssh.connect(**_asyncssh_kwargs(spec, host))
        async with conn:
            r = await conn.run(command, check=False)
            return str(r.stdout) if r.exit_status == 0 else ""

    t0, c0 = time.perf_counter(), time.process_time()
    outs = await asyncio.gather(*(one(h) for h in spec["hosts"]), return_exceptions=True)
    t1, c1 = time.perf_counter(), time.process_time()
    ok = sum(1 for o in outs if isinstance(o, str) and o.count(" ") == 4)
    errors = sorted({repr(o)[:200] for o in outs if isinstance(o, BaseException)})[:3]
    return {"fanout_s": t1 - t0, "cpu_s": c1 - c0, "ok": ok, "errors": errors}


async def asyncssh_warm(spec: dict[str, Any], script: str, rounds: int, limit: int) -> dict[str, Any]:
    import asyncssh

    sem = asyncio.Semaphore(limit or 10_000)

    async def connect(host: list[Any]) -> asyncssh.SSHClientConnection:
        async with sem:
            return await asyncssh.connect(**_asyncssh_kwargs(spec, host))

    async def run(conn: asyncssh.SSHClientConnection) -> bool:
        r = await conn.run(script, check=False)
        return "DONE" in str(r.stdout)

    t0 = time.perf_counter()
    conns = await asyncio.gather(*(connect(h) for h in spec["hosts"]))
    await asyncio.gather(*(run(c) for c in conns))
    first = time.perf_counter() - t0
    times, cpus, machine = [], [], []
    for _ in range(rounds):
        t0, c0, m0 = time.perf_counter(), time.process_time(), _busy()
        oks = await asyncio.gather(*(run(c) for c in conns))
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        machine.append(_busy() - m0)
    for c in conns:
        c.close()
    return {"first_round_s": first, "round_s": times, "round_cpu_s": cpus, "round_machine_cpu_s": machine, "ok": sum(oks)}


# -- parallel-ssh's ParallelSSHClient (ssh2-python / libssh2) ----------------------------------------------


def _pssh_client(spec: dict[str, Any], pool: int):  # type: ignore[no-untyped-def]
    from pssh.clients import ParallelSSHClient
    from pssh.config import HostConfig

    hosts = [h[1] for h in spec["hosts"]]
    cfg = [HostConfig(port=h[2], user=spec["user"], private_key=spec["key"], allow_agent=False, identity_auth=False)
           for h in spec["hosts"]]
    return ParallelSSHClient(hosts, host_config=cfg, pool_size=pool, num_retries=1, timeout=60)


def pssh_cold(spec: dict[str, Any], command: str, limit: int) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    client = _pssh_client(spec, limit or len(spec["hosts"]))
    output = client.run_command(command, stop_on_errors=False)
    client.join(output)
    outs = []
    for host_out in output:
        outs.append("".join(host_out.stdout) if host_out.exception is None else "")
    t1, c1 = time.perf_counter(), time.process_time()
    ok = sum(1 for o in outs if o.count(" ") == 4)
    errors = sorted({repr(h.exception)[:200] for h in output if h.exception is not None})[:3]
    return {"fanout_s": t1 - t0, "cpu_s": c1 - c0, "ok": ok, "errors": errors}


def pssh_warm(spec: dict[str, Any], script: str, rounds: int, limit: int) -> dict[str, Any]:
    client = _pssh_client(spec, limit or len(spec["hosts"]))

    def one_round() -> int:
        output = client.run_command(script, stop_on_errors=False)
        client.join(output)
        return sum(1 for h in output if h.exception is None and any("DONE" in line for line in h.stdout))

    t0 = time.perf_counter()
    one_round()
    first = time.perf_counter() - t0
    times, cpus, machine = [], [], []
    ok = 0
    for _ in range(rounds):
        t0, c0, m0 = time.perf_counter(), time.process_time(), _busy()
        ok = one_round()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        machine.append(_busy() - m0)
    return {"first_round_s": first, "round_s": times, "round_cpu_s": cpus, "round_machine_cpu_s": machine, "ok": ok}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["cold", "warm"])
    ap.add_argument("tool", choices=["cockpit", "asyncssh", "pssh-lib"])
    ap.add_argument("spec", type=Path)
    ap.add_argument("command", help="the command (cold) or a file holding the round's script (warm)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--limit", type=int, default=0, help="concurrent connects (asyncssh) / pool size (pssh-lib)")
    a = ap.parse_args()
    spec = json.loads(a.spec.read_text())
    if a.mode == "cold":
        if a.tool == "cockpit":
            out = asyncio.run(cockpit_cold(spec, a.command))
        elif a.tool == "asyncssh":
            out = asyncio.run(asyncssh_cold(spec, a.command, a.limit))
        else:
            out = pssh_cold(spec, a.command, a.limit)
    else:
        script = Path(a.command).read_text()
        if a.tool == "cockpit":
            out = asyncio.run(cockpit_warm(spec, a.rounds))
        elif a.tool == "asyncssh":
            out = asyncio.run(asyncssh_warm(spec, script, a.rounds, a.limit))
        else:
            out = pssh_warm(spec, script, a.rounds, a.limit)
    out["self_max_rss_mb"] = _rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
