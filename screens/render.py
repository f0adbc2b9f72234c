"""How engine values look on screen: glyphs, colours, sparklines, ages. Pure functions of data.

Status is always glyph + word, never colour alone, so it reads with NO_COLOR set.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

from cockpit.model import CheckResult, HostState
from cockpit.sanitize import strip_control

#: the threshold palette, checked by tests/test_colour_vision.py: a CIEDE2000 distance of at least 20
#: between each pair with deuteranomaly and protanomaly simulated at severity 100, and at least 4.5:1
#: contrast against the screen's background ($surface, #1E1E1E). Green/amber/red failed both.
OK_COLOUR, WARN_COLOUR, BAD_COLOUR = "#5CE1E6", "#FFE500", "#FF4080"
BACKGROUND = "#1E1E1E"
#: meaning without colour: a warning is underlined, a bad value bold and reversed (NO_COLOR keeps both)
OK = OK_COLOUR
WARN = f"underline {WARN_COLOUR}"
BAD = f"bold reverse {BAD_COLOUR}"
GLYPH = {"up": "●", "degraded": "◐", "down": "✖", "unknown": "?"}
STYLE = {"up": OK, "degraded": WARN_COLOUR, "down": f"bold {BAD_COLOUR}", "unknown": "magenta"}
SPARKS = "▁▂▃▄▅▆▇█"


def plain(text: str) -> Text:
    """Remote or user text: control sequences stripped, never parsed as markup."""
    return Text(strip_control(text))


def literal(text: str) -> str:
    """Outside text for an API that only takes markup (palette rows, tooltips): stripped, every ``[`` escaped.

    ``textual.markup.escape`` is not enough: it leaves ``[Bold]`` and ``[$var]`` to the parser.
    """
    return strip_control(text).replace("[", "\\[")


def clean(text: str) -> str:
    """Remote text as a plain string for ``Text.append(..., style=...)`` (never markup)."""
    return strip_control(text)


def status(s: str | None, word: bool = True) -> Text:
    if s is None:
        return Text("–", style="dim")
    return Text(f"{GLYPH.get(s, '?')} {s}" if word else GLYPH.get(s, "?"), style=STYLE.get(s, ""))


#: a lifecycle service judged fine though not up (retired, not introduced yet, in transition)
NEUTRAL = "dim"


def judged_style(r: CheckResult) -> str:
    """The colour of a service's judgment: its expectation decides, the status word stays literal."""
    return NEUTRAL if r.neutral else STYLE.get(r.judged, "")


def host_services(h: HostState) -> Text:
    """``3/4 ● up``: services literally up, then the host's worst judgment (``○ planned`` when only neutral)."""
    t = Text(f"{h.up_count}/{len(h.results)} ")
    worst = h.worst
    if worst == "up" and any(r.neutral for r in h.results) and h.up_count < len(h.results):
        t.append("○ planned", style=NEUTRAL)
    elif worst is not None:
        t.append_text(status(worst))
    return t


def reach(h: HostState) -> Text:
    if h.reach == "ok":
        return Text("● ok", style=OK)
    if h.reach == "connecting":
        return Text("… connecting", style="cyan")
    if h.reach == "unknown":
        return Text("? waiting", style="dim")
    reason = {"host-key-CHANGED": "key CHANGED", "host-key-unknown": "key unknown"}.get(h.reach, h.reach)
    if h.reach == "unreachable" and h.error:
        reason = h.error.split(":", 1)[0]  # the short reason code: refused, timeout, …
    return Text(f"⨯ {reason}"[:14], style=f"bold {BAD_COLOUR}")


def level_style(pct: float | None, warn: float = 70.0, crit: float = 90.0) -> str:
    """A threshold's colour and weight (never colour alone): plain, underlined, bold reversed."""
    if pct is None:
        return "dim"
    return BAD if pct >= crit else WARN if pct >= warn else OK


def sparkline(values: Sequence[float | None], width: int, top: float = 100.0) -> str:
    """Bars on a fixed scale, 0 to ``top`` (100 for percentages): 10 % never draws as a full bar."""
    vals = [v for v in values if v is not None][-width:]
    if not vals:
        return " " * width
    hi = max(top, 1e-9)
    out = "".join(SPARKS[min(len(SPARKS) - 1, max(0, int(v / hi * (len(SPARKS) - 1) + 0.5)))] for v in vals)
    return out.rjust(width)


def gauge(pct: float | None, history: Sequence[float | None], spark: int = 5, stale: float | None = None) -> Text:
    """A percentage with its recent history: ``▂▃▅▆▇ 91%``, coloured and weighted by threshold.

    ``stale``: the figures' age when the host no longer answers; the sparkline gives way to ``12s ago``
    and the value is dimmed, so an old 100 % reads as old, not as now.
    """
    if stale is not None:
        t = Text(f"{age(stale)} ago"[-spark:].rjust(spark), style="dim italic")
        t.append(" ")
        t.append("   –" if pct is None else f"{pct:3.0f}%", style="dim")
        return t
    t = Text(sparkline(history, spark), style="dim")
    t.append(" ")
    t.append("   –" if pct is None else f"{pct:3.0f}%", style=level_style(pct))
    return t


def age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def clock_time(ts: float, with_zone: bool = False) -> str:
    """Local time, as the operator's wall clock shows it."""
    dt = datetime.fromtimestamp(ts).astimezone()
    return dt.strftime("%H:%M:%S %Z" if with_zone else "%H:%M:%S")


def now() -> float:
    return time.time()
