"""Resource load: one /proc read per round on Linux hosts, sysctl on macOS, psutil locally.

CPU is a delta of /proc/stat between two rounds (a host's first round reads it twice);
memory is MemTotal - MemAvailable; disk is ``df -P -k`` of the host's configured
mounts, sampled every ``DISK_EVERY`` seconds (disks fill over minutes; ``df`` is a
process on the host every round otherwise). The CPU count is read once.
"""

from __future__ import annotations

import shlex
import time
from collections import deque

import psutil

from cockpit.model import Load

DISK_EVERY = 30.0  # seconds between two df runs on a host


def load_snippet(mounts: tuple[str, ...], prime: bool = False, disk: bool = True, ncpu: bool = True) -> str:
    """Shell code printing a tagged sample; parsed by :meth:`LoadTracker.parse`.

    On Linux the sample is read with the shell's own ``read``: no process is started,
    because a warm round's cost is the host's process count. ``prime`` (a host's first
    round) reads /proc/stat twice 0.25 s apart, so even a one-shot snapshot has a CPU
    figure. ``disk`` (``df``) and ``ncpu`` (``getconf``) start a process each, so the
    tracker asks for them only now and then (see :meth:`LoadTracker.wants_disk`).
    """
    m = " ".join(shlex.quote(x) for x in mounts) or "/"
    stat = 'read -r _l </proc/stat; echo "$_l"; '
    first = f"echo @stat0; {stat}sleep 0.25; " if prime else ""
    cpus = "echo @ncpu; getconf _NPROCESSORS_ONLN 2>/dev/null || nproc; " if ncpu else ""
    df = f"echo @df; df -P -k {m} 2>/dev/null; " if disk else ""
    return (
        "if [ -r /proc/stat ] && [ -r /proc/meminfo ] && [ -r /proc/loadavg ]; then "
        f"{first}echo @stat; {stat}"
        "echo @mem; _n=0; while read -r _k _v _u; do case $_k in MemTotal:|MemAvailable:) "
        'echo "$_k $_v"; _n=$((_n+1)); [ "$_n" -ge 2 ] && break;; esac; done </proc/meminfo; '
        'echo @load; read -r _l </proc/loadavg; echo "$_l"; '
        f"{cpus}"
        "else "
        'echo "@os $(uname -s)"; '
        "echo @ncpu; sysctl -n hw.ncpu; echo @loadbsd; sysctl -n vm.loadavg; echo @memsize; sysctl -n hw.memsize; "
        "echo @vmstat; vm_stat 2>/dev/null | head -n 12; "
        "fi; "
        f"{df}true"
    )


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cur = "_"
    for line in text.splitlines():
        if line.startswith("@") and " " not in line.strip():
            cur = line.strip()[1:]
            out[cur] = []
        elif line.startswith("@os "):
            out["os"] = [line[4:].strip()]
        else:
            out.setdefault(cur, []).append(line)
    return out


def _num(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


class LoadTracker:
    """Turns raw samples into :class:`Load`, keeping the CPU counters and a bounded history."""

    @property
    def primed(self) -> bool:
        return self._prev_cpu is not None

    def __init__(self, history: int = 120, disk_every: float = DISK_EVERY) -> None:
        self._prev_cpu: tuple[float, float] | None = None  # (busy, total) jiffies
        self.history: deque[Load] = deque(maxlen=history)
        self.disk_every = disk_every
        self.ncpu: int | None = None  # read once
        self._disks: tuple[tuple[str, float], ...] = ()
        self._disk_at: float | None = None  # monotonic time of the last df

    def wants_disk(self, now: float | None = None) -> bool:
        """Whether this round's sample should run ``df`` (first round, then every ``disk_every``)."""
        now = time.monotonic() if now is None else now
        return self._disk_at is None or now - self._disk_at >= self.disk_every

    def snippet(self, mounts: tuple[str, ...], now: float | None = None) -> str:
        """This round's load snippet for the host: primed once, df and the CPU count only when due."""
        return load_snippet(mounts, prime=not self.primed, disk=self.wants_disk(now), ncpu=self.ncpu is None)

    def add(self, load: Load) -> Load:
        self.history.append(load)
        return load

    def parse(self, text: str, at: float | None = None) -> Load:
        at = time.time() if at is None else at
        sec = _sections(text)
        if v := _num((sec.get("ncpu") or [""])[0].strip()):
            self.ncpu = int(v)
        ncpu = self.ncpu
        if "df" in sec:
            self._disks = tuple(dict(_parse_df(sec["df"])).items())
            self._disk_at = time.monotonic()
        disks = self._disks
        if "stat" in sec:
            if "stat0" in sec:
                self._cpu(sec["stat0"])
            cpu = self._cpu(sec["stat"])
            mem, total = _parse_meminfo(sec.get("mem", []))
            la = (sec.get("load") or [""])[0].split()
            loads = [_num(x) for x in la[:3]] + [None] * 3
            return Load(at=at, cpu=cpu, mem=mem, mem_total_kb=total, load1=loads[0], load5=loads[1],
                        load15=loads[2], disks=disks, ncpu=ncpu)
        if "loadbsd" in sec:
            la = (sec.get("loadbsd") or [""])[0].strip("{} ").split()
            loads = [_num(x) for x in la[:3]] + [None] * 3
            mem = _parse_vmstat(sec.get("vmstat", []), _num((sec.get("memsize") or [""])[0].strip()))
            return Load(at=at, mem=mem, load1=loads[0], load5=loads[1], load15=loads[2], disks=disks, ncpu=ncpu,
                        note="macOS: CPU not sampled")
        os_name = (sec.get("os") or ["?"])[0]
        return Load(at=at, disks=disks, supported=False, note=f"load not supported on {os_name}")

    def _cpu(self, lines: list[str]) -> float | None:
        if not lines:
            return None
        fields = lines[0].split()
        if not fields or fields[0] != "cpu":
            return None
        vals = [float(x) for x in fields[1:] if x.isdigit()]
        if len(vals) < 4:
            return None
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)  # idle + iowait
        total = sum(vals[:8])  # guest time is already counted in user
        busy = total - idle
        prev, self._prev_cpu = self._prev_cpu, (busy, total)
        if prev is None or total <= prev[1]:
            return None
        return max(0.0, min(100.0, 100.0 * (busy - prev[0]) / (total - prev[1])))

    def prime_local(self) -> None:
        """Record CPU counters now, so the next local sample has a CPU figure."""
        self._prev_cpu = _local_cpu()

    def sample_local(self, mounts: tuple[str, ...]) -> Load:
        """The cockpit's own machine, through psutil (no subprocess)."""
        busy, total = _local_cpu()
        prev, self._prev_cpu = self._prev_cpu, (busy, total)
        cpu = None
        if prev is not None and total > prev[1]:
            cpu = max(0.0, min(100.0, 100.0 * (busy - prev[0]) / (total - prev[1])))
        vm = psutil.virtual_memory()
        la = psutil.getloadavg()
        disks = []
        for m in mounts:
            try:
                disks.append((m, psutil.disk_usage(m).percent))
            except OSError:
                continue
        return Load(at=time.time(), cpu=cpu, mem=vm.percent, mem_total_kb=vm.total // 1024, load1=la[0],
                    load5=la[1], load15=la[2], disks=tuple(disks), ncpu=psutil.cpu_count())


def _local_cpu() -> tuple[float, float]:
    ct = psutil.cpu_times()
    busy = ct.user + ct.nice + ct.system + getattr(ct, "irq", 0) + getattr(ct, "softirq", 0) + getattr(ct, "steal", 0)
    return busy, busy + ct.idle + getattr(ct, "iowait", 0)


def _parse_meminfo(lines: list[str]) -> tuple[float | None, int | None]:
    vals = {}
    for line in lines:
        parts = line.replace(":", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            vals[parts[0]] = int(parts[1])
    total, avail = vals.get("MemTotal"), vals.get("MemAvailable")
    if not total or avail is None:
        return None, total
    return 100.0 * (total - avail) / total, total


def _parse_vmstat(lines: list[str], memsize: float | None) -> float | None:
    if not memsize:
        return None
    page = 4096
    vals: dict[str, int] = {}
    for line in lines:
        if "page size of" in line:
            digits = [int(x) for x in line.split() if x.isdigit()]
            page = digits[0] if digits else page
        elif ":" in line:
            k, _, v = line.partition(":")
            v = v.strip().rstrip(".")
            if v.isdigit():
                vals[k.strip()] = int(v)
    free = vals.get("Pages free", 0) + vals.get("Pages inactive", 0) + vals.get("Pages speculative", 0)
    return max(0.0, min(100.0, 100.0 * (1 - free * page / memsize)))


def _parse_df(lines: list[str]) -> tuple[tuple[str, float], ...]:
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[4].endswith("%"):
            pct = _num(parts[4][:-1])
            if pct is not None:
                out.append((parts[5], pct))
    return tuple(out)
