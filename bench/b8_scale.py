"""B8 scale on the path users run (issue 20): ``cockpit snapshot -c fleet.toml`` with the default config and an
``[ssh] config`` file listing the fleet, against parallel-ssh and bare asyncssh; a fleet behind one bastion;
warm rounds and the TUI's first full table at 1,000 hosts.

Usage (the project's python; parallel-ssh installed into it or bench/.venv):
  python bench/b8_scale.py cold --hosts 100,200 --runs 3     # interleaved, median of the runs
  python bench/b8_scale.py bastion --hosts 40 --runs 3       # sshd defaults: direct vs through one bastion
  python bench/b8_scale.py big --hosts 1000                  # cold (1 run each), warm rounds, TUI first table

Every peer runs the same remote script: the cockpit's own round script (B2's three checks and the load
sample); the cockpit's cold round also primes the load sample (one more /proc read, df, CPU count).
Tools: ``cockpit`` (the ``cockpit snapshot`` command in a fresh process, default [ssh] settings),
``asyncssh`` (the floor: connect + run per host, all at once, options pre-resolved), ``asyncssh-config``
(the same, passing ``config=`` and the host alias, as most users would), ``pssh-lib`` (parallel-ssh's
ParallelSSHClient, pool_size 100; it checks no host keys). Client CPU is the tool's whole process tree
(RUSAGE_CHILDREN); every sshd shares the machine's cores with it, so wall times on 2 cores are bounded by
sshd's own CPU (``server_cpu_s``) as much as by the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BENCH, BENCH_VENV, ROOT, BenchFleet, log, raise_nofile, run_measured, summary, versions, write_result
from fleet import Fleet, FleetHost
from peers import SERVICES_B2, round_script

PY = sys.executable  # the project's interpreter


def _pssh_python() -> str:
    """An interpreter with parallel-ssh: this one, else bench/.venv's (bench/setup.sh installs it there)."""
    try:
        import pssh  # noqa: F401
    except ImportError:
        return str(BENCH_VENV / "bin" / "python")
    return PY
ME = Path(__file__).resolve()
COLD_TOOLS = ["cockpit", "asyncssh", "asyncssh-config", "pssh-lib"]
DROPPED = re.compile(r"drop connection|past MaxStartups")


class ScaleFleet(BenchFleet):
    """BenchFleet for 1,000 hosts: its per-listener psutil walks (``children(recursive=True)`` reads every
    process of the machine each time) took minutes per measurement and per teardown at that size."""

    def cpu_seconds(self) -> float:
        """The same sum as BenchFleet's (every sshd of the fleet and its descendants), in one pass."""
        import psutil

        listeners = {h.pid for h in self.hosts if h.pid is not None}
        parent: dict[int, int] = {}
        spent: dict[int, float] = {}
        for p in psutil.process_iter(["ppid", "cpu_times"]):
            t = p.info["cpu_times"]
            parent[p.pid] = p.info["ppid"] or 0
            spent[p.pid] = t.user + t.system + t.children_user + t.children_system if t else 0.0
        total = 0.0
        for pid, cpu in spent.items():
            q, depth = pid, 0
            while q and q not in listeners and depth < 32:
                q, depth = parent.get(q, 0), depth + 1
            if q in listeners:
                total += cpu
        return total

    def close(self) -> None:
        """Every listener TERMed and reaped at once, by pid, before the per-host stop (then a no-op)."""
        procs = [h._proc for h in self.hosts if h._proc is not None and h._proc.poll() is None]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass  # left to the per-host stop below
        for h in self.hosts:
            if h._proc is not None and h._proc.poll() is not None:
                h._proc = None
        super().close()


# -- the files a user has: an ssh_config listing the fleet, a cockpit config with the defaults ----------------


def write_files(fleet: Fleet, tmp: Path, hosts: list[FleetHost], bastion: FleetHost | None = None) -> dict[str, Any]:
    """ssh_config (six lines per host, as a generated fleet config has), fleet.toml and the workers' spec."""
    lines = []
    if bastion is not None:
        lines.append(f"Host bastion\n  HostName {bastion.address}\n  Port {bastion.port}\n  User {fleet.user}\n"
                     f"  IdentityFile {fleet.client_key}\n  IdentitiesOnly yes\n")
    for h in hosts:
        lines.append(f"Host {h.name}\n  HostName {h.address}\n  Port {h.port}\n  User {fleet.user}\n"
                     f"  IdentityFile {fleet.client_key}\n  IdentitiesOnly yes\n"
                     + ("  ProxyJump bastion\n" if bastion is not None else ""))
    ssh_config = tmp / ("ssh_config_jump" if bastion else "ssh_config")
    ssh_config.write_text("\n".join(lines))
    toml = tmp / ("fleet_jump.toml" if bastion else "fleet.toml")
    toml.write_text(f'[ssh]\nconfig = "{ssh_config}"\nknown_hosts = "{fleet.known_hosts}"\n\n'
                    + "".join(f"[hosts.{h.name}]\n" for h in hosts) + SERVICES_B2)
    script = tmp / "round.sh"
    script.write_text(round_script(toml))
    spec = {"user": fleet.user, "key": str(fleet.client_key), "known_hosts": str(fleet.known_hosts),
            "hosts": [[h.name, h.address, h.port] for h in hosts], "cockpit_config": str(toml),
            "ssh_config": str(ssh_config), "script": str(script)}
    (tmp / "spec.json").write_text(json.dumps(spec))
    return {"toml": toml, "ssh_config": ssh_config, "spec": tmp / "spec.json", "script": script}


def prepare_state(fleet: Fleet) -> None:
    for h in fleet.hosts:
        fleet.set_systemd(h, "fleet-agent", "active running")
        fleet.set_docker(h, "web", "running healthy 0")


# -- one measured run of a tool ----------------------------------------------------------------------------------


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SSH_AUTH_SOCK")}
    e["PYTHONPATH"] = str(ROOT)
    return e


def run_tool(tool: str, files: dict[str, Any], fleet: Fleet, tmp: Path, n: int) -> dict[str, Any]:
    out = tmp / f"{tool}.out"
    if tool == "cockpit":
        argv = [PY, "-m", "cockpit", "snapshot", "-c", str(files["toml"]), "--format", "json"]
    else:
        argv = [_pssh_python() if tool == "pssh-lib" else PY, str(ME), "worker", tool, str(files["spec"])]
    r = run_measured(argv, env=env(), cwd=ROOT, stdout=out, fleet=fleet if isinstance(fleet, BenchFleet) else None,
                     timeout=1800)
    text = out.read_text(errors="replace")
    if tool == "cockpit":
        try:
            r["ok"] = sum(1 for h in json.loads(text)["hosts"] if h["reach"] == "ok")
        except (ValueError, KeyError):
            r["ok"] = 0
    else:
        try:
            r.update(json.loads(text.strip().splitlines()[-1]))
        except (IndexError, ValueError):
            r["ok"] = 0
    if r.get("ok") == n:
        r.pop("stderr_tail", None)
    return r


def interleaved(tools: list[str], runs: int, files: dict[str, Any], fleet: Fleet, tmp: Path,
                n: int, warmup: bool = True) -> dict[str, list[dict[str, Any]]]:
    raw: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    if warmup:
        for t in tools:  # page cache, .pyc: not measured
            run_tool(t, files, fleet, tmp, n)
    for i in range(runs):
        for t in tools[i % len(tools):] + tools[: i % len(tools)]:
            r = run_tool(t, files, fleet, tmp, n)
            raw[t].append(r)
            log(f"  N={n} run {i + 1} {t:15s} wall {r['wall_s']:.2f}s cpu {r['cpu_s']:.2f}s "
                f"rss {r['peak_rss_tree_mb']:.0f}MB sshd {r.get('server_cpu_s', 0):.2f}s ok {r.get('ok')}/{n}")
    return raw


def table(raw: dict[str, list[dict[str, Any]]], n: int) -> dict[str, Any]:
    out = {}
    for t, rs in raw.items():
        good = [r for r in rs if r.get("ok") == n]
        out[t] = {"runs": len(rs), "complete_runs": len(good),
                  "wall_s": summary([r["wall_s"] for r in good], 3), "cpu_s": summary([r["cpu_s"] for r in good], 3),
                  "peak_rss_tree_mb": summary([r["peak_rss_tree_mb"] for r in good], 1),
                  "server_cpu_s": summary([r.get("server_cpu_s", 0.0) for r in good], 2),
                  "ok": [r.get("ok") for r in rs]}
    return out


def med(row: dict[str, Any], key: str) -> float | None:
    return row.get(key, {}).get("median") if row else None


def ratios(tab: dict[str, Any]) -> dict[str, float]:
    c = tab.get("cockpit", {})
    out = {}
    for peer in ("pssh-lib", "asyncssh", "asyncssh-config"):
        a, b = med(c, "wall_s"), med(tab.get(peer, {}), "wall_s")
        if a and b:
            out[f"cockpit_wall_vs_{peer}"] = round(a / b, 2)
    return out


# -- scenarios -------------------------------------------------------------------------------------------------


def cold(sizes: list[int], runs: int, tools: list[str]) -> dict[str, Any]:
    results = {}
    for n in sizes:
        with BenchFleet(n) as fleet, tempfile.TemporaryDirectory(prefix="bench-b8-") as tmp_s:
            tmp = Path(tmp_s)
            log(f"B8 cold: {n} hosts up in {fleet.startup_seconds:.1f}s")
            prepare_state(fleet)
            files = write_files(fleet, tmp, fleet.hosts)
            raw = interleaved(tools, runs, files, fleet, tmp, n, warmup=runs > 1)
            tab = table(raw, n)
            results[n] = {"tools": tab, "ratios": ratios(tab),
                          "cpu_per_host_ms": {t: round(med(r, "cpu_s") / n * 1000, 2)
                                              for t, r in tab.items() if med(r, "cpu_s")}}
            log(f"N={n}: {results[n]['ratios']} cpu/host ms {results[n]['cpu_per_host_ms']}")
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[1]
        for t in tools:
            ca, cb = med(results[a]["tools"][t], "cpu_s"), med(results[b]["tools"][t], "cpu_s")
            if ca and cb:
                results.setdefault("cpu_ratio", {})[t] = round(cb / ca, 2)
    return results


def bastion(n: int, runs: int) -> dict[str, Any]:
    """``n`` hosts behind one bastion, every sshd at its defaults (MaxStartups 10:30:100), vs the same direct."""
    with Fleet(n + 1) as fleet, tempfile.TemporaryDirectory(prefix="bench-b8j-") as tmp_s:
        tmp = Path(tmp_s)
        prepare_state(fleet)
        jump, targets = fleet.hosts[-1], fleet.hosts[:-1]
        (tmp / "direct").mkdir()
        (tmp / "jump").mkdir()
        direct = write_files(fleet, tmp / "direct", targets)
        via = write_files(fleet, tmp / "jump", targets, bastion=jump)
        raw: dict[str, list[dict[str, Any]]] = {"direct": [], "bastion": []}
        logins0 = jump.log_text().count("Accepted publickey")
        for i in range(runs + 1):
            for name in (["direct", "bastion"] if i % 2 == 0 else ["bastion", "direct"]):
                before = jump.log_text().count("Accepted publickey")
                r = run_tool("cockpit", direct if name == "direct" else via, fleet, tmp, n)
                r["bastion_logins"] = jump.log_text().count("Accepted publickey") - before
                if i:  # the first pair warms up
                    raw[name].append(r)
                log(f"  bastion run {i} {name:8s} wall {r['wall_s']:.2f}s cpu {r['cpu_s']:.2f}s ok {r['ok']}/{n} "
                    f"bastion logins {r['bastion_logins']}")
        dropped = sum(len(DROPPED.findall(h.log_text())) for h in fleet.hosts)
        tab = table(raw, n)
        w_direct, w_jump = med(tab["direct"], "wall_s"), med(tab["bastion"], "wall_s")
        return {"hosts": n, "tools": tab, "dropped_handshakes": dropped,
                "bastion_logins_per_run": [r["bastion_logins"] for r in raw["bastion"]],
                "bastion_logins_total": jump.log_text().count("Accepted publickey") - logins0,
                "wall_ratio_bastion_vs_direct": round(w_jump / w_direct, 2) if w_direct and w_jump else None}


def big(n: int, warm_rounds: int, tools: list[str], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    with ScaleFleet(n) as fleet, tempfile.TemporaryDirectory(prefix="bench-b8b-") as tmp_s:
        tmp = Path(tmp_s)
        log(f"B8 big: {n} hosts up in {fleet.startup_seconds:.1f}s")
        prepare_state(fleet)
        files = write_files(fleet, tmp, fleet.hosts)
        raw = interleaved(tools, 1, files, fleet, tmp, n, warmup=False)
        tab = table(raw, n)
        res: dict[str, Any] = {"hosts": n, "cold": {"tools": tab, "ratios": ratios(tab),
                                                     "cpu_per_host_ms": {t: round(med(r, "cpu_s") / n * 1000, 2)
                                                                         for t, r in tab.items() if med(r, "cpu_s")}}}
        if "warm" in skip:
            return res
        warm = {}
        for tool in ("cockpit", "asyncssh"):
            out = tmp / f"warm-{tool}.out"
            r = run_measured([PY, str(BENCH / "fanout_worker.py"), "warm", tool, str(files["spec"]),
                              str(files["script"]), "--rounds", str(warm_rounds)], env=env(), cwd=ROOT, stdout=out,
                             fleet=fleet, timeout=1800)
            try:
                r.update(json.loads(out.read_text().strip().splitlines()[-1]))
            except (IndexError, ValueError):
                r["ok"] = 0
            warm[tool] = {"ok": r.get("ok"), "round_s": summary(r.get("round_s", []), 3),
                          "round_cpu_s": summary(r.get("round_cpu_s", []), 3),
                          "first_round_s": round(r.get("first_round_s", 0.0), 2),
                          "self_max_rss_mb": r.get("self_max_rss_mb"), "peak_rss_tree_mb": round(r["peak_rss_tree_mb"], 1)}
            log(f"  warm {tool}: {warm[tool]}")
        if med(warm["cockpit"], "round_s") and med(warm["asyncssh"], "round_s"):
            warm["ratio_cockpit_vs_asyncssh"] = round(med(warm["cockpit"], "round_s") / med(warm["asyncssh"], "round_s"), 2)
        res["warm"] = warm
        if "tui" in skip:
            return res
        out = tmp / "tui.out"
        r = run_measured([PY, str(ME), "tui-worker", str(files["toml"]), str(n)], env=env(), cwd=ROOT, stdout=out,
                         fleet=fleet, timeout=1800)
        try:
            res["tui"] = {**json.loads(out.read_text().strip().splitlines()[-1]), "process_wall_s": round(r["wall_s"], 2),
                          "process_cpu_s": round(r["cpu_s"], 2)}
        except (IndexError, ValueError):
            res["tui"] = {"error": r.get("stderr_tail", "")[-500:]}
        log(f"  tui: {res['tui']}")
        return res


# -- workers (one fresh process per measurement) ------------------------------------------------------------------


async def asyncssh_cold(spec: dict[str, Any], use_config: bool) -> dict[str, Any]:
    import asyncssh

    script = Path(spec["script"]).read_text()

    async def one(host: list[Any]) -> bool:
        if use_config:  # the alias and config=, the way most users call it
            kw: dict[str, Any] = {"host": host[0], "config": [spec["ssh_config"]]}
        else:  # pre-resolved: the floor
            kw = {"host": host[1], "port": host[2], "username": spec["user"], "client_keys": [spec["key"]],
                  "config": None}
        conn = await asyncssh.connect(**kw, known_hosts=spec["known_hosts"], agent_path=None,
                                      preferred_auth="publickey")
        async with conn:
            r = await conn.run(script, check=False)
            return "DONE" in str(r.stdout)

    outs = await asyncio.gather(*(one(h) for h in spec["hosts"]), return_exceptions=True)
    errors = sorted({repr(o)[:200] for o in outs if isinstance(o, BaseException)})[:3]
    return {"ok": sum(1 for o in outs if o is True), "errors": errors}


def pssh_cold(spec: dict[str, Any]) -> dict[str, Any]:
    from pssh.clients import ParallelSSHClient
    from pssh.config import HostConfig

    script = Path(spec["script"]).read_text()
    cfg = [HostConfig(port=h[2], user=spec["user"], private_key=spec["key"], allow_agent=False, identity_auth=False)
           for h in spec["hosts"]]
    client = ParallelSSHClient([h[1] for h in spec["hosts"]], host_config=cfg, pool_size=100, num_retries=1, timeout=120)
    output = client.run_command(script, stop_on_errors=False)
    client.join(output)
    ok = sum(1 for h in output if h.exception is None and any("DONE" in line for line in h.stdout))
    return {"ok": ok, "errors": sorted({repr(h.exception)[:200] for h in output if h.exception is not None})[:3]}


async def tui_first_table(config_path: str, n: int) -> dict[str, Any]:
    """Seconds from the app's start to the first answered row, half, 90 % and every row (the first full table)."""
    import resource

    sys.path.insert(0, str(ROOT))
    from cockpit.config import load_config
    from cockpit.engine import Engine
    from screens.app import CockpitApp

    t0 = time.perf_counter()
    app = CockpitApp(Engine(load_config(config_path)), quiet=True)
    marks: dict[str, float] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            snap = app.snapshot
            answered = sum(1 for h in snap.hosts if h.reach not in ("unknown", "connecting")) if snap else 0
            for name, need in (("first_row_s", 1), ("half_s", n // 2), ("p90_s", n * 9 // 10), ("full_table_s", n)):
                if answered >= need and name not in marks:
                    marks[name] = round(time.perf_counter() - t0, 2)
            if answered >= n:
                break
            await pilot.pause(0.1)
        ok = sum(1 for h in app.snapshot.hosts if h.reach == "ok") if app.snapshot else 0
    return {**marks, "ok": ok, "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


# -- main ----------------------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        spec = json.loads(Path(sys.argv[3]).read_text())
        tool = sys.argv[2]
        out = pssh_cold(spec) if tool == "pssh-lib" else asyncio.run(asyncssh_cold(spec, tool == "asyncssh-config"))
        print(json.dumps(out))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "tui-worker":
        print(json.dumps(asyncio.run(tui_first_table(sys.argv[2], int(sys.argv[3])))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["cold", "bastion", "big"])
    ap.add_argument("--hosts", default="100,200")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warm-rounds", type=int, default=3)
    ap.add_argument("--tools", default=None, help="cold: all four; big: without asyncssh-config, whose parse per "
                    "connection is quadratic (minutes of CPU at 1,000 hosts; the 100/200-host rows show it)")
    ap.add_argument("--skip", default="", help="big: leave out warm and/or tui (comma-separated)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    raise_nofile()
    tools = (a.tools or ",".join(t for t in COLD_TOOLS if a.mode != "big" or t != "asyncssh-config")).split(",")
    sizes = [int(x) for x in a.hosts.split(",")]
    if a.mode == "cold":
        res: dict[str, Any] = {"results": cold(sizes, a.runs, tools)}
    elif a.mode == "bastion":
        res = {"results": bastion(sizes[0], a.runs)}
    else:
        res = {"results": big(sizes[0], a.warm_rounds, tools, tuple(a.skip.split(",")))}
    v = versions(peers=False)
    try:
        from importlib.metadata import version

        v["parallel-ssh"] = version("parallel-ssh")
    except Exception:  # noqa: BLE001 - only a label in the results
        v["parallel-ssh"] = "not installed here"
    v["loadavg_at_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    write_result(a.out or f"b8_scale_{a.mode}_{a.hosts.replace(',', '_')}", {"mode": a.mode, "versions": v, **res})
    log(json.dumps(res["results"], default=str)[:3000])


if __name__ == "__main__":
    main()
