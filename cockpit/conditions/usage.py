"""Judging the resource functions: a service's CPU and memory, a host's load, cores and disk.

A service's figures come from its latest result's :class:`cockpit.model.Usage` (read through its cgroup or
process tree on the host, see :mod:`cockpit.checks.resources`); a host's from its latest load sample. A
figure missing on a host makes that host inconclusive, with the reason the reading gave.
"""

from __future__ import annotations

from collections.abc import Callable

from cockpit.conditions.resources import DiskStat, HostStat, ServiceUsage
from cockpit.conditions.terms import LoadStat, Quantity, Target
from cockpit.conditions.wording import OPS, Outcome, Verdict, all_of, fmt, group, limit, no_hosts, short
from cockpit.model import CheckResult, HostState

__all__ = ["as_service", "judge_disk", "judge_host_stat", "judge_load_stat_size", "judge_service_usage"]

Figure = tuple[str, float | None, str]  # host, figure, why missing (a note with {hosts})


def judge_service_usage(node: ServiceUsage, ctx: object, label: str | None = None) -> Verdict:
    """``cpu(S)``/``mem(S)`` (and ``rss(S)``, mem's alias): the service's own figure on each of its hosts."""
    t = node.target
    label = label or f"{node.func}({t.text})"
    kind = "percent" if node.func == "cpu" or node.limit.unit == "%" else "size"
    figures: list[Figure] = []
    for h in ctx.hosts_for(t.service, t.selector):  # type: ignore[attr-defined]
        figures.append(_service_figure(node, ctx, h))
    return _verdict(label, figures, node.op, node.limit, kind, "no host is checked for it", _cpu_note(node))


def _cpu_note(node: ServiceUsage) -> str:
    return " (of one core)" if node.func == "cpu" else ""


def _service_figure(node: ServiceUsage, ctx: object, host: str) -> Figure:
    service = node.target.service
    if ctx.reachable(host) is False:  # type: ignore[attr-defined]
        return host, None, "{hosts} unreachable"
    r: CheckResult | None = ctx.latest(service, host)  # type: ignore[attr-defined]
    if r is None:
        return host, None, "no fresh result from {hosts}"
    u = r.usage
    why = f" ({short(u.note, 50)})" if u is not None and u.note else ""
    if node.func == "cpu":
        if u is None or u.cpu is None:
            return host, None, f"no CPU figure from {{hosts}}{why}"
        return host, u.cpu, ""
    mem = u.mem if u is not None else None
    if mem is None and r.get("rss_kb") is not None:  # a process check's own ps figure, when no reading
        mem = int(float(r.get("rss_kb") or 0) * 1024)
    if mem is None:
        return host, None, f"no memory figure from {{hosts}}{why}"
    if node.limit.unit != "%":
        return host, float(mem), ""
    total = _mem_total(ctx, host)
    if total is None:
        return host, None, "host memory size unknown on {hosts}"
    return host, 100.0 * mem / total, ""


def _mem_total(ctx: object, host: str) -> float | None:
    for st in ctx.load(host):  # type: ignore[attr-defined]
        if st.name == host and st.load is not None and st.load.mem_total_kb:
            return float(st.load.mem_total_kb) * 1024
    return None


def judge_load_stat_size(node: LoadStat, ctx: object) -> Verdict:
    """``mem(SEL) < 4GB``: a host's used memory as a size (its percentage of its total)."""
    figures: list[Figure] = []
    for st in ctx.load(node.selector):  # type: ignore[attr-defined]
        ld = st.load if st.reachable else None
        fig = None if ld is None or ld.mem is None or not ld.mem_total_kb else ld.mem / 100 * ld.mem_total_kb * 1024
        figures.append((st.name, fig, "{hosts} unreachable" if not st.reachable else "no mem figure from {hosts}"))
    return _verdict(f"mem({node.selector})", figures, node.op, node.limit, "size", "no host matches")


def judge_host_stat(node: HostStat, ctx: object) -> Verdict:
    """``load1(SEL)``, ``load5(SEL)`` (optionally per core) and ``cores(SEL)`` on each matching host."""
    label = f"{node.func}({node.selector})" + (f" / cores({node.selector})" if node.per_core else "")
    figures: list[Figure] = []
    for st in ctx.load(node.selector):  # type: ignore[attr-defined]
        figures.append(_host_figure(node, st))
    return _verdict(label, figures, node.op, node.limit, "number", "no host matches")


def _host_figure(node: HostStat, st: HostState) -> Figure:
    if not st.reachable:
        return st.name, None, "{hosts} unreachable"
    ld = st.load
    cores = ld.ncpu if ld is not None else None
    if node.func == "cores":
        return st.name, None if cores is None else float(cores), "CPU count unknown on {hosts}"
    value = getattr(ld, node.func) if ld is not None else None
    if value is None:
        note = ld.note if ld is not None and ld.note else ""
        return st.name, None, f"no {node.func} figure from {{hosts}}" + (f" ({short(note, 40)})" if note else "")
    if node.per_core:
        if not cores:
            return st.name, None, "CPU count unknown on {hosts}"
        return st.name, value / cores, ""
    return st.name, value, ""


def judge_disk(node: DiskStat, ctx: object) -> Verdict:
    """``disk(SEL, "/path")``: the sampled filesystem holding the path (the longest mount prefix)."""
    label = f'disk({node.selector}, "{short(node.path, 40)}")'
    figures: list[Figure] = []
    for st in ctx.load(node.selector):  # type: ignore[attr-defined]
        if not st.reachable:
            figures.append((st.name, None, "{hosts} unreachable"))
            continue
        disks = st.load.disks if st.load is not None else ()
        mounts = [(m, pct) for m, pct in disks if _holds(m, node.path)]
        if not mounts:
            figures.append((st.name, None, f"{short(node.path, 30)} not sampled on " + "{hosts} (add it to its mounts)"))
            continue
        figures.append((st.name, max(mounts, key=lambda mp: len(mp[0]))[1], ""))
    return _verdict(label, figures, node.op, node.limit, "percent", "no host matches")


def _holds(mount: str, path: str) -> bool:
    return path == mount or mount == "/" or path.startswith(mount.rstrip("/") + "/")


def _verdict(label: str, figures: list[Figure], op: str, lim: Quantity, kind: str, nobody: str,
             unit_note: str = "") -> Verdict:
    """All hosts must pass; the detail names the figures (a range when all pass) and the limit."""
    if not figures:
        return no_hosts(label, nobody)
    cmp: Callable[[float, float], bool] = OPS[op]
    rows: list[tuple[str, Outcome, str]] = [
        (h, None if f is None else cmp(f, lim.value), why if f is None else f"{fmt(kind, f)}{unit_note} on " + "{hosts}")
        for h, f, why in figures
    ]
    value = all_of(o for _, o, _ in rows)
    if value is True:
        vals = [f for _, f, _ in figures if f is not None]
        lo, hi = min(vals), max(vals)
        span = fmt(kind, lo) if lo == hi else f"{fmt(kind, lo)}..{fmt(kind, hi)}"
        return Verdict(True, f"{label} = {span}{unit_note} on {len(vals)} host(s), {limit(op, lim, kind)}")
    return Verdict(value, f"{label}: {group(rows, value)}, {limit(op, lim, kind)}")


def as_service(node: LoadStat) -> ServiceUsage:
    """``cpu(S)``/``mem(S)`` written without ``@``: the same as ``cpu(S@all)`` on the service's hosts."""
    return ServiceUsage(node.func, Target(node.selector), node.op, node.limit)  # type: ignore[arg-type]
