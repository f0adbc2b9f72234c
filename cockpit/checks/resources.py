"""Per-service CPU and memory: one shell section reads every service of a host, inside the round script.

Each service is located by kind and read through its cgroup: a systemd unit by ``systemctl show -p
ControlGroup`` (one call for all units), a container by its main pid's ``/proc/PID/cgroup`` (one
``docker inspect`` for all containers; compose services are their project's containers), a process check
by its pids' cgroup when the matched process tree has that cgroup to itself. A process sharing a cgroup
(a login session, pm2's daemon) is read from ``/proc/PID/stat`` and ``statm`` summed over its process tree.
``docker stats --no-stream`` is asked only for containers whose cgroup cannot be read here.

cgroup v2 gives ``memory.current`` and ``cpu.stat`` usage_usec; v1 ``memory.usage_in_bytes`` and
``cpuacct.usage`` (ns). The cgroup root is ``$CK_CGROUP_ROOT`` (default /sys/fs/cgroup) and the clock
``$CK_UPTIME`` (default /proc/uptime): tests point them at fixture trees. CPU is turned into a percentage
by the engine from two rounds' counters over the host's own clock (:mod:`cockpit.engine.usage`).

Each answer line is ``= ID HOW ...``; names and patterns reach the shell quoted, never as code.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from cockpit.spec import Check, DockerCheck, ProcessCheck, SystemdCheck

q = shlex.quote
_CONTAINER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HEX = re.compile(r"[0-9a-f]{12,64}")

#: the most pids a process check's tree sums (a fork bomb must not make the round script slow)
TREE_PIDS = 200

#: kinds whose resources the cockpit can read on the host, and why the others cannot
RESOURCE_KINDS = ("systemd", "docker", "compose", "pm2", "process")
NO_RESOURCES = {
    "http": "an http check is probed from the cockpit and names no process on a host",
    "tcp": "a tcp check is probed from the cockpit and names no process on a host",
    "ws": "a ws check is probed from the cockpit and names no process on a host",
    "dns": "a dns check asks a resolver and names no process",
    "port": "a port check names a socket, not the process that should own it",
    "command": "a command check runs a command and names no process",
    "launchd": "launchd jobs run on macOS, which has no cgroups to read",
}


def locator(check: Check) -> tuple[str, ...] | None:
    """How a service is found on its host: (``unit``, NAME), (``docker``, CONTAINER), (``compose``,
    PROJECT, SERVICE), (``pm2``, APP) or (``pids``, PATTERN); None for a kind without resources."""
    if isinstance(check, SystemdCheck):
        return ("unit", check.unit)
    if isinstance(check, DockerCheck):
        return ("docker", check.container)
    if isinstance(check, ProcessCheck):
        return ("pids", check.pattern)
    if check.kind == "compose":  # the compose kind (issue 24): a project's service, one or more containers
        return ("compose", str(getattr(check, "project", "")), str(getattr(check, "service", "")))
    if check.kind == "pm2":  # pm2 apps share pm2's daemon cgroup: their process trees
        return ("pm2", str(getattr(check, "app", getattr(check, "name", ""))))
    return None


# Helpers defined once per script. _cgr ID MEMPATH CPUPATH prints a cgroup's counters (ns of CPU);
# _pcg PID sets _pm/_pc to the pid's memory and cpuacct cgroups; _proc ID PIDS NOTE reads the pids' own
# cgroup, or sums their process tree (the pids and every descendant): one cat and one awk over
# /proc/*/stat (utime+stime in ticks, rss in pages), since the shell's read takes a syscall per byte.
_HELPERS = r"""_R=${CK_CGROUP_ROOT:-/sys/fs/cgroup}
if [ -r "$_R/cgroup.controllers" ]; then _v=2; else _v=1; fi; echo "@cg $_v"
_cgr() {
  _m=; _c=
  if [ $_v = 2 ]; then
    [ -r "$_R$2/memory.current" ] && read -r _m < "$_R$2/memory.current"
    [ -r "$_R$3/cpu.stat" ] && while read -r _k _x; do [ "$_k" = usage_usec ] && { _c=${_x}000; break; }; done < "$_R$3/cpu.stat"
  else
    [ -r "$_R/memory$2/memory.usage_in_bytes" ] && read -r _m < "$_R/memory$2/memory.usage_in_bytes"
    [ -r "$_R/cpuacct$3/cpuacct.usage" ] && read -r _c < "$_R/cpuacct$3/cpuacct.usage"
  fi
  echo "= $1 cg ${_m:--} ${_c:--} $2"
}
_pcg() {
  _pm=; _pc=
  [ -r "/proc/$1/cgroup" ] || return 1
  while IFS=: read -r _n _k _p; do
    case "$_v:$_k" in 2:) _pm=$_p; _pc=$_p ;; 1:memory) _pm=$_p ;; 1:*cpuacct*) _pc=$_p ;; esac
  done < "/proc/$1/cgroup"
  [ -n "$_pm" ]
}
_proc() {
  if [ -z "$2" ]; then echo "= $1 none $3"; return; fi
  _f=; if _pcg ${2%% *} && [ "$_pm" != / ]; then _f="$_R$_pm/cgroup.procs"; [ $_v = 2 ] || _f="$_R/memory$_pm/cgroup.procs"; fi
  _o=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$2" -v id="$1" -v cgp="$_f" -v max=__PIDS__ '
    { l = $0; sub(/^[0-9]+ \(.*\) /, "", l); split(l, f, " "); pp[$1] = f[2]; t[$1] = f[12] + f[13]; r[$1] = f[22] }
    END {
      n = split(roots, a, " "); for (i = 1; i <= n; i++) inn[a[i]] = 1
      do { g = 0; for (p in pp) if (!(p in inn) && (pp[p] in inn)) { inn[p] = 1; g = 1 } } while (g)
      own = 0; if (cgp != "") { own = 1; seen = 0; while ((getline q < cgp) > 0) { seen = 1; if (!(q in inn)) own = 0 }; own = own && seen }
      if (own) { print "own"; exit }
      for (p in inn) if ((p in t) && k < max) { s += r[p]; c += t[p]; k++ }
      printf "= %s tree %.0f %.0f %d\n", id, s, c, k
    }')
  if [ "$_o" = own ]; then _cgr "$1" "$_pm" "$_pc"; else echo "$_o"; fi
}
_dk() {
  docker inspect --format '{{.Id}} {{.Name}} {{.State.Pid}}' "$@" 2>/dev/null | while read -r _id _nm _pid; do
    for _w in $_want; do
      _s=${_w%%=*}; _c=${_w#*=}
      case "$_c" in "id:"*) case $_id in "${_c#id:}"*) ;; *) continue ;; esac ;; *) [ "/${_c#nm:}" = "$_nm" ] || continue ;; esac
      if [ "${_pid:-0}" = 0 ]; then echo "= $_s none container not running"
      elif _pcg "$_pid" && [ -r "$_R/memory$_pm/memory.usage_in_bytes" -o -r "$_R$_pm/memory.current" ]; then
        _cgr "$_s" "$_pm" "$_pc"
      else echo "= $_s stats $(docker stats --no-stream --format '{{.CPUPerc}} {{.MemUsage}}' "$_id" 2>/dev/null)"; fi
    done
  done
}
"""


def resources_snippet(targets: list[tuple[str, tuple[str, ...]]], prime: bool = False) -> str:
    """Shell code reading every target's counters, each as ``= ID ...`` lines.

    ``targets``: (section id, :func:`locator`) per service. ``prime`` (a host's first round): also print
    the host's clock ticks per second and page size (``getconf``: two processes, so only once), and read
    everything twice 0.25 s apart, so even a one-shot ``cockpit check`` has a CPU figure.
    """
    helpers = _HELPERS.replace("__PIDS__", str(TREE_PIDS))
    parts = []
    units = [(sid, loc[1]) for sid, loc in targets if loc[0] == "unit"]
    if units:
        ids = " ".join(sid for sid, _ in units)
        parts.append(
            f"set -- {ids}; systemctl show -p ControlGroup -- {' '.join(q(u) for _, u in units)} 2>&1 | "
            "while IFS= read -r _l; do case $_l in ControlGroup=*) _g=${_l#ControlGroup=}; "
            '[ -n "$_g" ] && _cgr "$1" "$_g" "$_g" || echo "= $1 none the unit has no cgroup (not running)"; '
            "shift ;; *'not found'*|*'No such file'*) echo \"= @missing systemctl\" ;; esac; done")
    dockers = [(sid, loc[1]) for sid, loc in targets if loc[0] == "docker"]
    composes = [(sid, loc[1], loc[2]) for sid, loc in targets if loc[0] == "compose"]
    if dockers or composes:
        # container names and ids are [A-Za-z0-9_.-] (docker refuses others): safe unquoted in $_want
        ok = [(sid, n) for sid, n in dockers if _CONTAINER.fullmatch(n)]
        lines = [f"echo '= {sid} none no container can have that name'" for sid, n in dockers if (sid, n) not in ok]
        want = [f"{sid}={'id' if _HEX.fullmatch(n) else 'nm'}:{n}" for sid, n in ok]
        lines += [f"_want='{' '.join(want)}'", f"_args='{' '.join(n for _, n in ok)}'"]
        for sid, project, service in composes:  # the project's containers (or one service's), by their labels
            by_service = f"--filter {q('label=com.docker.compose.service=' + service)} " if service else ""
            lines.append(
                "for _i in $(docker ps -q --no-trunc --filter "
                f"{q('label=com.docker.compose.project=' + project)} {by_service}2>/dev/null); do "
                f'_want="$_want {sid}=id:$_i"; _args="$_args $_i"; done; echo "= {sid} count"')
        lines.append('[ -n "$_args" ] && _dk $_args')
        lines.append("command -v docker >/dev/null 2>&1 || echo '= @missing docker'")
        parts.append("; ".join(lines))
    pm2 = [(sid, loc[1]) for sid, loc in targets if loc[0] == "pm2"]
    if pm2:
        # pm2 jlist starts a daemon when none runs: ask only a live one (as the pm2 check does)
        parts.append('_h=${PM2_HOME:-$HOME/.pm2}; _j=; '
                     'if [ -r "$_h/pm2.pid" ] && kill -0 "$(cat "$_h/pm2.pid")" 2>/dev/null; then '
                     "_j=$(pm2 jlist 2>/dev/null | grep -o '{\"pid\":[0-9]*,\"name\":\"[^\"]*\"' | "
                     "sed 's/{\"pid\":\\([0-9]*\\),\"name\":\"\\(.*\\)\"/\\1 \\2/'); fi")
        for sid, app in pm2:
            parts.append(f"_p=$(echo \"$_j\" | while read -r _a _b; do [ \"$_b\" = {q(app)} ] && "
                         "[ \"$_a\" != 0 ] && printf '%s ' \"$_a\"; done); "
                         f"_proc {sid} \"$_p\" 'no pm2 app by that name is running'")
    for sid, loc in targets:
        if loc[0] == "pids":
            parts.append(f"_proc {sid} \"$(pgrep -d ' ' -f -- {q(loc[1])} 2>/dev/null)\" 'no process matches'")
    body = "\n".join(parts)
    run = "_res; sleep 0.25; echo @again; _res" if prime else "_res"
    clock = 'echo "@clk $(getconf CLK_TCK 2>/dev/null) $(getconf PAGESIZE 2>/dev/null)"; ' if prime else ""
    return f"{helpers}_res() {{\n_up=; read -r _up _x < \"${{CK_UPTIME:-/proc/uptime}}\" && echo \"@up $_up\"\n" \
           f"{body}\n}}\n{clock}{run}; true\n"


@dataclass(frozen=True)
class Counters:
    """One service's raw reading: memory in bytes and CPU time in ns (None where not readable)."""

    mem: int | None = None
    cpu_ns: int | None = None
    via: str = ""  # "cgroup v1 /docker/…", "process tree (3 pids)", "docker stats"
    note: str = ""  # why a figure is missing
    cpu_pct: float | None = None  # docker stats' own sample (% of one core), when no counters


@dataclass(frozen=True)
class Reading:
    """A host's answer: its clock, cgroup version and each section id's counters."""

    uptime: float | None
    cgroup: int | None
    counters: dict[str, Counters]
    clock: tuple[int, int] | None = None  # (CLK_TCK, page size)
    missing: tuple[str, ...] = ()  # tools not found on the host


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def parse_passes(text: str, clock: tuple[int, int] | None = None) -> list[Reading]:
    """One :class:`Reading` per pass (two on a primed round: the first only primes the CPU counters)."""
    first = parse_resources(text.split("@again\n", 1)[0], clock)
    if "@again\n" not in text:
        return [first]
    return [first, parse_resources(text.split("@again\n", 1)[1], first.clock, first.cgroup)]


def parse_resources(text: str, clock: tuple[int, int] | None = None, cgroup: int | None = None) -> Reading:
    """The section's output into counters; several lines for one id (a compose service's containers)
    add up. ``clock``: the host's (CLK_TCK, page size) learnt on an earlier round."""
    uptime = None
    rows: dict[str, list[list[str]]] = {}
    missing: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "@up":
            try:
                uptime = float(parts[1])
            except ValueError:
                pass
        elif len(parts) >= 2 and parts[0] == "@cg":
            cgroup = _int(parts[1])
        elif len(parts) >= 3 and parts[0] == "@clk" and parts[1].isdigit() and parts[2].isdigit():
            clock = (int(parts[1]), int(parts[2]))
        elif len(parts) >= 3 and parts[0] == "=" and parts[1] == "@missing":
            missing.append(parts[2])
        elif len(parts) >= 3 and parts[0] == "=":
            rows.setdefault(parts[1], []).append(parts[2:])
    out = {sid: _counters(lines, cgroup, clock) for sid, lines in rows.items()}
    return Reading(uptime, cgroup, out, clock, tuple(dict.fromkeys(missing)))


def _counters(lines: list[list[str]], cgroup: int | None, clock: tuple[int, int] | None) -> Counters:
    reads = [p for p in lines if p[0] in ("cg", "tree", "stats")]
    if not reads:
        nones = [" ".join(p[1:]) for p in lines if p[0] == "none"]
        if nones:
            return Counters(note=nones[0])
        return Counters(note="no container of the compose project is running" if lines else "no answer")
    mem = cpu = 0
    mem_ok = cpu_ok = True
    vias: list[str] = []
    for p in reads:
        if p[0] == "cg" and len(p) >= 3:
            m, c = _int(p[1]), _int(p[2])
            vias.append(f"cgroup v{cgroup or '?'}")
        elif p[0] == "tree" and len(p) >= 4 and clock is not None:
            pages, ticks = _int(p[1]), _int(p[2])
            m = None if pages is None else pages * clock[1]
            c = None if ticks is None else ticks * 1_000_000_000 // max(1, clock[0])
            vias.append(f"process tree ({p[3]} pids)")
        elif p[0] == "tree":
            m = c = None
            vias.append("process tree (clock unknown yet)")
        else:
            pct, m = _stats(p[1:])
            if len(reads) == 1:
                return Counters(mem=m, via="docker stats (cgroup not readable)", cpu_pct=pct,
                                note="" if m is not None else "docker stats gave no figure")
            c = None
            vias.append("docker stats")
        mem_ok, cpu_ok = mem_ok and m is not None, cpu_ok and c is not None
        mem, cpu = mem + (m or 0), cpu + (c or 0)
    via = vias[0] if len(set(vias)) == 1 else ", ".join(dict.fromkeys(vias))
    if len(reads) > 1:
        via += f", {len(reads)} containers"
    note = "" if mem_ok and cpu_ok else (
        f"{'memory' if not mem_ok else 'CPU'} not accounted in this cgroup"
        + (" (cgroup v1: enable MemoryAccounting/CPUAccounting for the unit)" if cgroup == 1 else ""))
    return Counters(mem if mem_ok else None, cpu if cpu_ok else None, via, note)


_SIZE = re.compile(r"([\d.]+)\s*([KMGT]?i?B)")
_FACTOR = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
           "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}


def _stats(fields: list[str]) -> tuple[float | None, int | None]:
    """``12.5% 64MiB / 2GiB`` (docker stats' own sample) into (% of one core, bytes)."""
    pct = mem = None
    if fields and fields[0].endswith("%"):
        try:
            pct = float(fields[0][:-1])
        except ValueError:
            pct = None
    m = _SIZE.match(" ".join(fields[1:2]))
    if m:
        mem = int(float(m.group(1)) * _FACTOR.get(m.group(2), 1))
    return pct, mem
