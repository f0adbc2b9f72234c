"""One script per host per round: every host-side check plus the load sample, one SSH round trip.

The script goes to ``sh -s`` on stdin. Each section's output is framed by a random
per-round delimiter, so a check's output cannot forge another's result, and login
noise printed before the script runs is ignored. Exit statuses travel on stderr.

A section whose output size is not ours to know (``cut``: a user's command) runs in
a subshell, cut at ``SECTION_LIMIT`` bytes on the host through a pipe to ``head``.
Our own snippets print a few lines, never ``exit`` or ``cd``, and run in the shell
itself: the pipe and the subshell cost four processes per section, and the host's
process count is most of a warm round's cost (docs/performance.md, B2).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

SECTION_LIMIT = 65536


@dataclass(frozen=True)
class Section:
    id: str  # [A-Za-z0-9_.-]+
    code: str  # shell code; its stdout+stderr is the section's output
    cut: bool = True  # False only for our own snippets: a few lines of output, no exit, no cd


@dataclass(frozen=True)
class SectionOutput:
    output: str
    rc: int | None  # None when the section never finished


def new_delimiter() -> str:
    return "CK" + secrets.token_hex(12)


def build_script(sections: list[Section], delimiter: str) -> str:
    """The script text: two framing helpers (cut and uncut), then one call per section."""
    d = delimiter
    lines = [
        f"D={d}",
        "_ck() {",
        '  printf \'%s B %s\\n\' "$D" "$1"',
        '  { ( eval "$2" ) </dev/null 2>&1; printf \'%s R %s %s\\n\' "$D" "$1" "$?" >&3; } 3>&2 '
        f"| {{ head -c {SECTION_LIMIT}; cat >/dev/null; }}",
        '  printf \'\\n%s E %s\\n\' "$D" "$1"',
        "}",
        "_cs() {",
        '  printf \'%s B %s\\n\' "$D" "$1"',
        '  { eval "$2"; } </dev/null 2>&1',  # no subshell either: our snippets never exit or cd
        '  printf \'%s R %s %s\\n\' "$D" "$1" "$?" >&2',
        '  printf \'\\n%s E %s\\n\' "$D" "$1"',
        "}",
    ]
    for s in sections:
        lines.append(f"{'_ck' if s.cut else '_cs'} {s.id} {_sq(s.code)}")
    lines.append('printf \'%s DONE\\n\' "$D"; printf \'%s DONE\\n\' "$D" >&2')
    return "\n".join(lines) + "\n"


def end_marker(delimiter: str) -> str:
    """The line that ends a round's output on both streams (a kept shell stays open after it)."""
    return f"{delimiter} DONE"


def _sq(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


# One compiled pattern for every round: a pattern built from each round's delimiter missed re's
# cache on every host-round (0.4 ms of client CPU per host-round at 200 hosts, B2's profile).
_RC = re.compile(r"^(CK[0-9a-f]{24}) R (\S+) (\d+)$", re.M)
_FRAME = re.compile(r"^(CK[0-9a-f]{24}) B (\S+)\n(.*?)\n?\1 E \2$", re.S | re.M)
_OURS = re.compile(r"^(CK[0-9a-f]{24}) (?:R \S+ \d+|DONE)\n?", re.M)


def parse_round(stdout: str, stderr: str, delimiter: str) -> dict[str, SectionOutput]:
    """Map section id -> output and exit status; sections that never ran are absent."""
    rcs = {m.group(2): int(m.group(3)) for m in _RC.finditer(stderr) if m.group(1) == delimiter}
    out: dict[str, SectionOutput] = {}
    for m in _FRAME.finditer(stdout):
        if m.group(1) == delimiter:
            sid = m.group(2)
            out[sid] = SectionOutput(m.group(3), rcs.get(sid))
    return out


def strip_frames(stderr: str, delimiter: str) -> str:
    """stderr minus our exit-status and end lines: what the host's shell itself complained about."""
    return _OURS.sub(lambda m: "" if m.group(1) == delimiter else m.group(0), stderr)
