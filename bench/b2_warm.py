"""B2 warm round: one full round (load sample + 3 checks per host) over persistent connections.

Usage: .venv/bin/python bench/b2_warm.py --hosts 50,200,500 --rounds 100 --peer-rounds 5 [--out b2_warm]

The cockpit: Engine.run_round() over a config with three checks per host (systemd unit, docker container,
a command), after one unmeasured round that connects; p50 and p99 of the round times. Peers run the very
script the engine sends a host in a warm round (bench/peers.py round_script), over kept connections:
bare asyncssh (the floor) and ParallelSSHClient keep theirs in-process; Debian's parallel-ssh and ansible
are one process per round, reusing OpenSSH ControlMaster connections (ControlPersist) that a first,
unmeasured run opened; ansible also has pipelining on. Process/port checks are left out: on a loopback
fleet pgrep and ss scan every host's processes and sockets (N^2 work that a real host does not have).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from common import BenchFleet, log, pct, raise_nofile, summary, versions, write_result
from peers import SERVICES_B2, Peers, round_script


def stats(times: list[float]) -> dict[str, float]:
    return {"p50": round(pct(times, 50), 4), "p99": round(pct(times, 99), 4), "max": round(max(times), 4),
            "min": round(min(times), 4), "n": len(times)}


def bench(n: int, rounds: int, peer_rounds: int, tools: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"hosts": n}
    with BenchFleet(n) as fleet, tempfile.TemporaryDirectory(prefix="bench-b2-") as tmp:
        log(f"B2: {n} hosts up in {fleet.startup_seconds:.1f}s")
        for h in fleet.hosts:
            fleet.set_systemd(h, "fleet-agent", "active running")
            fleet.set_docker(h, "web", "running healthy 0")
        p = Peers(fleet, Path(tmp), services=SERVICES_B2)
        script = round_script(p.cockpit_config)
        script_file = Path(tmp) / "round.sh"
        script_file.write_text(script)
        res: dict[str, Any] = {}
        for tool in tools:
            if tool in ("cockpit", "asyncssh", "pssh-lib"):
                k = rounds if tool != "pssh-lib" else max(peer_rounds, min(rounds, 20))
                r = p.run_worker("warm", tool, str(script_file), rounds=k, limit=n if tool == "pssh-lib" else 0)
                if "round_s" not in r:
                    log(f"  {tool}: failed rc={r['rc']} {r['stderr_tail'][-500:]}")
                    continue
                res[tool] = {"round_s": stats(r["round_s"]), "round_cpu_s": summary(r["round_cpu_s"]),
                             "round_machine_cpu_s": summary(r["round_machine_cpu_s"]),
                             "first_round_s": round(r["first_round_s"], 3), "ok_hosts": r["ok"],
                             "process_peak_rss_mb": round(r["peak_rss_tree_mb"], 1)}
            else:
                run = p.run_ansible if tool == "ansible" else p.run_pssh
                first = run(script, warm=True, expect="DONE")  # opens the ControlMaster connections
                times, cpus, rss, ok, machine = [], [], [], [], []
                for _ in range(peer_rounds):
                    m0 = p.masters_cpu()
                    r = run(script, warm=True, expect="DONE")
                    times.append(r["wall_s"])
                    cpus.append(r["cpu_s"] + p.masters_cpu() - m0)
                    rss.append(r["peak_rss_tree_mb"])
                    ok.append(r["ok"])
                    machine.append(r["machine_cpu_s"])
                res[tool] = {"round_s": stats(times), "round_cpu_s": summary(cpus),
                             "round_machine_cpu_s": summary(machine), "first_round_s": round(first["wall_s"], 3),
                             "ok_hosts": min(ok), "process_peak_rss_mb": round(max(rss), 1),
                             "masters": len(p.masters())}
                p.stop_masters()
            row = res[tool]
            log(f"  N={n} {tool:9s} p50 {row['round_s']['p50']:.3f}s p99 {row['round_s']['p99']:.3f}s "
                f"cpu/round {row['round_cpu_s']['median']:.3f}s machine/round {row['round_machine_cpu_s']['median']:.3f}s "
                f"ok {row['ok_hosts']}/{n}")
        out["tools"] = res
        out["script_bytes"] = len(script.encode())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default="50,200,500")
    ap.add_argument("--rounds", type=int, default=100, help="measured rounds of the cockpit and bare asyncssh")
    ap.add_argument("--peer-rounds", type=int, default=5, help="measured rounds of ansible and pssh")
    ap.add_argument("--tools", default="cockpit,asyncssh,pssh-lib,pssh,ansible")
    ap.add_argument("--out", default="b2_warm")
    a = ap.parse_args()
    raise_nofile()
    results = [bench(int(n), a.rounds, a.peer_rounds, a.tools.split(",")) for n in a.hosts.split(",")]
    write_result(a.out, {"checks_per_host": 3, "checks": ["systemd (shim)", "docker (shim)", "command true"],
                         "rounds": a.rounds, "peer_rounds": a.peer_rounds, "versions": versions(), "results": results})


if __name__ == "__main__":
    main()
