"""Human durations ("500ms", "5s", "1m30s") to seconds and back.

Config files carry durations as short strings because a bare ``5`` is ambiguous
to a reader; a bare number is still accepted and means seconds.
"""

from __future__ import annotations

import math
import re

__all__ = ["ACCEPTED_FORMS", "format_duration", "parse_duration"]

ACCEPTED_FORMS = (
    'a number of seconds (5, 0.5) or a string with units ms, s, m, h '
    '("500ms", "5s", "1.5s", "2m", "1h", "1m30s")'
)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ms|h|m|s)")
_WHOLE = re.compile(rf"(?:{_NUMBER}(?:ms|h|m|s))+")
_BARE = re.compile(_NUMBER)


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` in seconds.

    Raises:
        ValueError: with a message naming the accepted forms.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{value!r} is not a duration; use {ACCEPTED_FORMS}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration; use {ACCEPTED_FORMS}")
        return float(value)
    text = value.strip().lower().replace(" ", "")
    if _BARE.fullmatch(text):
        return float(text)
    if not text or not _WHOLE.fullmatch(text):
        raise ValueError(f"{value!r} is not a duration; use {ACCEPTED_FORMS}")
    return sum(float(num) * _UNITS[unit] for num, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Return the shortest readable form: 0.25 -> "250ms", 90 -> "1m30s", 3600 -> "1h"."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000, 3):g}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    secs = round(secs, 3)
    if secs >= 60:  # rounding carried over (59.9996s)
        minutes, secs = minutes + 1, 0.0
    if minutes >= 60:
        hours, minutes = hours + 1, 0.0
    parts = []
    if hours:
        parts.append(f"{int(hours)}h")
    if minutes:
        parts.append(f"{int(minutes)}m")
    if secs:
        parts.append(f"{secs:g}s")
    return "".join(parts) or "0s"
