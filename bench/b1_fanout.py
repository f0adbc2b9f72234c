"""B1 cold fan-out: `cat /proc/loadavg` on N hosts, from nothing to every output collected.

Usage: .venv/bin/python bench/b1_fanout.py --hosts 50,200 --runs 5 [--out b1_fanout]

Tools (bench/peers.py says each one's settings): cockpit (Engine.run_command over fresh transports),
asyncssh (bare, the floor), pssh-lib (parallel-ssh's ParallelSSHClient), pssh (Debian's parallel-ssh -p 50),
ansible (ansible all -m raw -f 50). Every run is a fresh process; runs are interleaved (tool order rotates
each round) and each tool gets one unmeasured warm-up run (page cache, .pyc). Figures per tool: median of
the runs of process wall time, the tree's CPU (RUSAGE_CHILDREN), peak summed RSS of the tree, sshd's CPU;
for in-process tools also the fan-out alone (first client object to last output, no interpreter start-up).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from common import BenchFleet, log, raise_nofile, summary, versions, write_result
from peers import Peers, sshd_handshake_cost

COMMAND = "cat /proc/loadavg"
TOOLS = ["cockpit", "asyncssh", "pssh-lib", "pssh", "ansible"]


def run_tool(p: Peers, tool: str, n: int) -> dict[str, Any]:
    if tool == "ansible":
        return p.run_ansible(COMMAND)
    if tool == "pssh":
        return p.run_pssh(COMMAND)
    return p.run_worker("cold", tool, COMMAND, limit=n if tool == "pssh-lib" else 0)


def bench(n: int, runs: int, tools: list[str], max_startups: int) -> dict[str, Any]:
    with BenchFleet(n) as fleet, tempfile.TemporaryDirectory(prefix="bench-b1-") as tmp:
        log(f"B1: {n} hosts up in {fleet.startup_seconds:.1f}s")
        p = Peers(fleet, Path(tmp), max_startups=max_startups)
        raw: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for t in tools:  # warm-up, not measured
            r = run_tool(p, t, n)
            if r.get("ok") != n:
                log(f"  warm-up {t}: only {r.get('ok')}/{n} outputs; rc={r['rc']} {r.get('errors') or r['stderr_tail'][-300:]}")
        for i in range(runs):
            order = tools[i % len(tools):] + tools[: i % len(tools)]
            for t in order:
                r = run_tool(p, t, n)
                raw[t].append(r)
                log(f"  run {i + 1} {t:9s} wall {r['wall_s']:.3f}s cpu {r['cpu_s']:.3f}s "
                    f"sshd {r.get('server_cpu_s', 0):.2f}s ok {r.get('ok')}/{n}"
                    + (f" fanout {r['fanout_s']:.3f}s" if "fanout_s" in r else ""))
        cost = sshd_handshake_cost(fleet, 30)
    table = {}
    for t, rs in raw.items():
        good = [r for r in rs if r.get("ok") == n]
        row: dict[str, Any] = {
            "runs": len(rs), "complete_runs": len(good),
            "wall_s": summary([r["wall_s"] for r in good]),
            "cpu_s": summary([r["cpu_s"] for r in good]),
            "peak_rss_tree_mb": summary([r["peak_rss_tree_mb"] for r in good], 1),
            "server_cpu_s": summary([r["server_cpu_s"] for r in good], 2),
        }
        if good and "fanout_s" in good[0]:
            row["fanout_s"] = summary([r["fanout_s"] for r in good])
            row["fanout_cpu_s"] = summary([r["inproc_cpu_s"] for r in good])
        table[t] = row
    return {"hosts": n, "runs": runs, "tools": table, "sshd_cost": cost, "raw": raw}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default="50,200")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--max-startups", type=int, default=32, help="the cockpit's [ssh] max_startups")
    ap.add_argument("--out", default="b1_fanout")
    a = ap.parse_args()
    raise_nofile()
    tools = a.tools.split(",")
    results = [bench(int(n), a.runs, tools, a.max_startups) for n in a.hosts.split(",")]
    for res in results:
        for r in res["raw"].values():  # keep the JSON small: per-run figures only
            for x in r:
                x.pop("stderr_tail", None)
                x.pop("errors", None)
    write_result(a.out, {"command": "cat /proc/loadavg", "cockpit_max_startups": a.max_startups,
                         "settings": {
                             "cockpit": f"Engine.run_command over fresh transports, [ssh] max_startups={a.max_startups}",
                             "asyncssh": "asyncssh.connect + conn.run per host, all at once",
                             "pssh-lib": "ParallelSSHClient(pool_size=N, num_retries=1), ssh2-python, no host key check",
                             "pssh": "parallel-ssh -p 50 -O ControlMaster=no, known_hosts checked",
                             "ansible": "ansible all -m raw -f 50, ControlMaster=no, no -C, gathering explicit",
                         },
                         "versions": versions(), "results": results})
    for res in results:
        floor = res["tools"].get("asyncssh", {}).get("wall_s", {}).get("median")
        for t, row in res["tools"].items():
            w = row["wall_s"].get("median")
            rel = f" ({w / floor:.2f}x asyncssh)" if floor and w else ""
            log(f"N={res['hosts']} {t:9s} wall {w}s{rel} cpu {row['cpu_s'].get('median')}s "
                f"rss {row['peak_rss_tree_mb'].get('median')}MB sshd {row['server_cpu_s'].get('median')}s"
                + (f" fanout {row['fanout_s'].get('median')}s" if "fanout_s" in row else ""))


if __name__ == "__main__":
    main()
