"""How a service's own CPU and memory look: history, staleness and thresholds the way host load has them.

CPU is shown as a percentage of one core (as ``top`` and ``docker stats`` show it) and coloured by its share
of the whole host, with the host CPU's thresholds; memory as a size, coloured by its share of the host's
memory. A silent host's figures give way to their age, dimmed, so an old 100 % reads as old.
"""

from __future__ import annotations

from rich.text import Text

from cockpit.model import CheckResult, HostState, Usage
from screens import render

#: a host whose figures are current; any other reach means its service figures are old
_FRESH = ("ok", "connecting")


def size(n: int | None) -> str:
    """``182M``, ``1.2G``, ``640K``: five cells at most."""
    if n is None:
        return "–"
    for unit, factor in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= factor:
            v = n / factor
            return f"{v:.1f}{unit}" if v < 10 and unit == "G" else f"{v:.0f}{unit}"
    return f"{n}B"


def stale_age(h: HostState, r: CheckResult | None, now: float | None) -> float | None:
    """Seconds since a service's figures were read, when its host no longer answers (else None)."""
    if now is None or h.reach in _FRESH or r is None or r.usage is None:
        return None
    return max(0.0, now - r.usage.at)


def _history(r: CheckResult, key: str) -> list[float | None]:
    return [getattr(u, key) for u in r.usage_history] or [getattr(r.usage, key)]


def mem_share(u: Usage | None, h: HostState) -> float | None:
    """A service's memory as a percentage of its host's (None when either is unknown)."""
    total = h.load.mem_total_kb if h.load is not None else None
    if u is None or u.mem is None or not total:
        return None
    return 100.0 * u.mem / (total * 1024)


def _age(stale: float, spark: int) -> Text:
    """The figures' age where the sparkline was (nothing without one: the figure alone, dimmed)."""
    if not spark:
        return Text("")
    return Text(f"{render.age(stale)} ago"[-spark:].rjust(spark) + " ", style="dim italic")


def cpu_gauge(r: CheckResult, spark: int, stale: float | None) -> Text:
    """``▂▃▅▆▇  37%``: the sparkline on 0-100 % of one core (more when it uses more), the figure coloured by the
    host share (host CPU's 70/90 % thresholds)."""
    u = r.usage
    cpu = u.cpu if u is not None else None
    if stale is not None:
        t = _age(stale, spark)
        t.append("   –" if cpu is None else f"{cpu:3.0f}%", style="dim italic")
        return t
    hist = [v for v in _history(r, "cpu") if v is not None]
    t = Text(render.sparkline(hist, spark, max([100.0, *hist])) + " " if spark else "", style="dim")
    t.append("   –" if cpu is None else f"{cpu:3.0f}%", style=render.level_style(u.cpu_host if u else None))
    return t


def mem_gauge(r: CheckResult, h: HostState, spark: int, stale: float | None) -> Text:
    """``▂▃▅▆▇ 182M``: the sparkline on 0 to the host's memory, the size coloured by its share of it."""
    u = r.usage
    mem = u.mem if u is not None else None
    figure = size(mem).rjust(5)
    if stale is not None:
        t = _age(stale, spark)
        t.append(figure, style="dim italic")
        return t
    hist = [float(v) for v in _history(r, "mem") if v is not None]
    total = h.load.mem_total_kb * 1024 if h.load is not None and h.load.mem_total_kb else max([1.0, *hist])
    t = Text(render.sparkline(hist, spark, float(total)) + " " if spark else "", style="dim")
    share = mem_share(u, h)
    t.append(figure, style=render.level_style(share) if mem is not None else "dim")
    return t


def usage_cell(r: CheckResult | None, h: HostState, stale: float | None, spark: int = 3) -> Text | None:
    """The services grid's resources cell: CPU gauge and memory, ``▂▃▅  37% ▂▃▅ 182M``; None: no figures
    (the grid shows the status then)."""
    if r is None or r.usage is None or not has_figures(r):
        return None  # the status word instead: a stopped unit reads "✖ down", not a cut reason
    if stale is not None:  # one age for both figures: "42s ago  50%  200M"
        cpu = r.usage.cpu
        t = Text(f"{render.age(stale)} ago ", style="dim italic")
        t.append(("   –" if cpu is None else f"{cpu:3.0f}%") + " " + size(r.usage.mem).rjust(5), style="dim")
        return t
    t = cpu_gauge(r, spark, stale)
    t.append(" ")
    t.append_text(mem_gauge(r, h, spark, stale))
    return t


def has_figures(r: CheckResult) -> bool:
    return r.usage is not None and (r.usage.cpu is not None or r.usage.mem is not None)


def inline(u: Usage, stale: float | None) -> str:
    """``CPU 54% of a core, mem 180M`` for a narrow screen's detail column (``42s old`` when stale)."""
    parts = [f"CPU {u.cpu:.0f}% of a core" if u.cpu is not None else "", f"mem {size(u.mem)}" if u.mem is not None else ""]
    text = ", ".join(p for p in parts if p)
    return text + (f" ({render.age(stale)} old)" if stale is not None else "")
