"""Shared helpers of the benchmark suite: the bench fleet, measuring a process tree, versions, results.

Everything runs on this machine: the client under test and every sshd "host" share its cores.
Each figure therefore carries the fleet's own CPU (``server_cpu_s``) next to the client's, so a
reader can see when sshd, not the client, is the limit.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BENCH_VENV = BENCH / ".venv"  # ansible-core, parallel-ssh, py-spy (bench/setup.sh); ignored by git (.venv/)
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fleet import Fleet, FleetHost  # noqa: E402

#: sshd settings of the bench fleet. The defaults (MaxStartups 10:30:100, MaxSessions 10) would drop
#: concurrent handshakes of tools that open several connections per host; every tool here opens one
#: connection per host, so they rarely bite, but a benchmark must not be limited by them.
BENCH_SSHD = "MaxStartups 1000:30:1000\nMaxSessions 64\nLogLevel ERROR"


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


# a benchmark stopped with SIGTERM (timeout, kill) unwinds like Ctrl-C: its fleet's sshd go with it
signal.signal(signal.SIGTERM, _exit_on_term)


def raise_nofile() -> tuple[int, int]:
    """Raise RLIMIT_NOFILE to the hard limit (500 connections plus pipes need more than 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 65536 and os.geteuid() == 0:
        try:  # root may raise the hard limit too (a container's default can be 1024)
            resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
            return resource.getrlimit(resource.RLIMIT_NOFILE)
        except (ValueError, OSError):
            pass
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


class BenchFleet(Fleet):
    """tests/fleet.py's Fleet, with room for more than 244 hosts (addresses over several /24s)
    and the raised sshd limits above."""

    PER_OCTET = 200

    def __init__(self, n: int, extra_config: str = BENCH_SSHD) -> None:
        super().__init__(0, extra_config=extra_config)
        second = 1 + os.getpid() % 254
        third0 = (os.getpid() // 254) % 200
        self.hosts = [
            FleetHost(self, f"h{i + 1}", f"127.{second}.{third0 + i // self.PER_OCTET}.{11 + i % self.PER_OCTET}")
            for i in range(n)
        ]

    def start(self, timeout: float = 180.0) -> BenchFleet:
        raise_nofile()
        t0 = time.monotonic()
        super().start(timeout=timeout)
        self.startup_seconds = time.monotonic() - t0
        return self

    def listeners(self) -> list[psutil.Process]:
        return [psutil.Process(h.pid) for h in self.hosts if h.pid is not None]

    def cpu_seconds(self) -> float:
        """CPU used so far by every sshd of the fleet and everything they forked (reaped or live).

        Exact for cold connections (the listener reaps each connection's processes); over kept
        connections it undercounts (B2 uses the machine's busy time instead)."""
        total = 0.0
        for top in self.listeners():
            try:
                procs = [top, *top.children(recursive=True)]
            except psutil.Error:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                total += t.user + t.system + t.children_user + t.children_system
        return total

    def write_hosts_file(self, path: Path) -> Path:
        """pssh's host file: user@address:port per line."""
        path.write_text("".join(f"{self.user}@{h.address}:{h.port}\n" for h in self.hosts))
        return path

    def write_inventory(self, path: Path) -> Path:
        """An Ansible INI inventory with address, port, user and key per host."""
        lines = ["[fleet]"]
        for h in self.hosts:
            lines.append(f"{h.name} ansible_host={h.address} ansible_port={h.port} ansible_user={self.user} "
                         f"ansible_ssh_private_key_file={self.client_key}")
        path.write_text("\n".join(lines) + "\n")
        return path


# -- measuring a child process tree -------------------------------------------------------------------


class TreeSampler:
    """Samples the summed RSS of a process and all its descendants until stopped; keeps the peak.

    Summed RSS counts pages shared between forks (ansible's workers) once per process: an upper bound.
    Sampling runs at 10 Hz so that it takes little CPU from the measured tools on 2 cores.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.peak_procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            top = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                procs = [top, *top.children(recursive=True)]
            except psutil.Error:
                break
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            if rss > self.peak:
                self.peak, self.peak_procs = rss, len(procs)
            self._stop.wait(self.interval)


def run_measured(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 stdout: Path | None = None, timeout: float = 600, fleet: BenchFleet | None = None) -> dict[str, Any]:
    """Run a command to its end; wall time, CPU of its whole tree, peak RSS (summed tree and largest process).

    CPU comes from getrusage(RUSAGE_CHILDREN) before and after: every descendant that was waited for
    (ssh clients, ansible's forks) is in it.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fleet_before = fleet.cpu_seconds() if fleet is not None else 0.0
    machine_before = machine_busy()
    out = open(stdout, "wb") if stdout is not None else subprocess.DEVNULL
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        with TreeSampler(proc.pid) as sampler:
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                _, err = proc.communicate()
                raise
        wall = time.perf_counter() - t0
    finally:
        if stdout is not None:
            out.close()  # type: ignore[union-attr]
    machine = machine_busy() - machine_before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res: dict[str, Any] = {
        "rc": proc.returncode,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_tree_mb": sampler.peak / 2**20,
        "peak_procs": sampler.peak_procs,
        "machine_cpu_s": machine,  # every core, every process: client + sshd side + the bench itself
        "stderr_tail": err.decode(errors="replace")[-2000:] if proc.returncode else "",
    }
    if fleet is not None:
        res["server_cpu_s"] = fleet.cpu_seconds() - fleet_before
    return res


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores; idle and iowait excluded)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def kill_tree(pid: int) -> None:
    """Stop a process we started and its descendants, by pid."""
    try:
        top = psutil.Process(pid)
        procs = [top, *top.children(recursive=True)]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


# -- versions, stats, results ----------------------------------------------------------------------------


def _run_text(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (r.stdout + r.stderr).strip()


def versions(peers: bool = True) -> dict[str, str]:
    import asyncssh
    import cryptography
    import httpx
    import textual.app  # noqa: F401
    from importlib.metadata import version

    v = {
        "python": platform.python_version(),
        "asyncssh": asyncssh.__version__,
        "cryptography": cryptography.__version__,
        "httpx": httpx.__version__,
        "textual": version("textual"),
        "openssh": _run_text(["/usr/sbin/sshd", "-V"]).split(",")[0],
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
    }
    if peers:
        bpy = str(BENCH_VENV / "bin" / "python")
        v["ansible-core"] = _run_text([bpy, "-c", "from importlib.metadata import version; print(version('ansible-core'))"])
        v["parallel-ssh"] = _run_text([bpy, "-c", "from importlib.metadata import version; print(version('parallel-ssh'))"])
        v["ssh2-python"] = _run_text([bpy, "-c", "from importlib.metadata import version; print(version('ssh2-python'))"])
        v["pssh"] = _run_text(["dpkg-query", "-W", "-f", "${Version}", "pssh"])
    return v


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), q in [0, 100]."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary(values: list[float], digits: int = 4) -> dict[str, float]:
    if not values:
        return {}
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **data}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return path


def log(*args: object) -> None:
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)
