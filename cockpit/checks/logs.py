"""log checks: lines matching a pattern in a file, a journald unit or a container's logs, read incrementally.

Each round reads only what is new since the last one: a file from the byte offset reached last time
(its inode tells a rotated file, read again from its start), journald and container logs over the time
window since the last round's end (``journalctl --since/--until``, ``docker logs --since/--until``, to the
nanosecond of the host's clock, so one window ends where the next begins). The pattern is
matched on the host by awk (a POSIX extended regex, passed in awk's environment, never its argv); only the
count and the last few matching lines (cut to 300 characters) cross the wire. The first round only sets
the starting point: lines from before the cockpit watched are not counted.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from cockpit.spec import LogCheck

q = shlex.quote

#: matching lines kept per check (the newest), and their length on the wire
KEPT_LINES = 5
LINE_CUT = 300

# N count, L line (the last KEPT_LINES, oldest first); the pattern comes from the environment (CK_LOG_PAT)
_AWK = (
    '$0 ~ ENVIRON["CK_LOG_PAT"] { n++; l[n % K] = substr($0, 1, C) } '
    'END { print "N " n + 0; for (i = (n > K ? n - K + 1 : 1); i <= n; i++) print "L " l[i % K] }'
)


@dataclass(frozen=True)
class LogRead:
    """One round's answer: the new cursor, how many new lines matched, the newest ones, what went wrong."""

    cursor: str | None
    count: int
    lines: tuple[str, ...] = ()
    error: str = ""
    note: str = ""


def log_snippet(check: LogCheck, cursor: str | None) -> str:
    """Shell code reading what is new since ``cursor`` (None: only report where "now" is)."""
    awk = f"CK_LOG_PAT={q(check.pattern)} awk -v K={KEPT_LINES} -v C={LINE_CUT} {q(_AWK)}"
    if check.file is not None:
        return _file(check.file, cursor, awk)
    # the host's clock to the nanosecond (GNU date; whole seconds where %N is not supported)
    now = '_n=$(date +%s.%N); case $_n in *N*|*.) _n=$(date +%s);; esac; echo "P $_n"'
    if cursor is None:
        return now
    since = cursor if re.fullmatch(r"\d+(\.\d+)?", cursor) else "0"
    if check.unit is not None:
        read = (f"journalctl -u {q(check.unit)} --since @{since} --until @$_n -o cat -q --no-pager 2>&1 "
                "</dev/null")
        tool = "journalctl"
    else:
        read = f"docker logs --since {since} --until $_n -- {q(str(check.container))} 2>&1"
        tool = "docker"
    return (f"if ! command -v {tool} >/dev/null 2>&1; then echo 'LOG-ERR {tool} not found on the host'; else "
            f"{now}; _o=$({read}); _r=$?; if [ $_r -ne 0 ]; then printf '%s\\n' \"$_o\" | tail -n 2 | "
            "sed 's/^/LOG-ERR /'; else printf '%s\\n' \"$_o\" | " + awk + "; fi; fi")


def _file(path: str, cursor: str | None, awk: str) -> str:
    f = q(path)
    head = (f"if [ ! -e {f} ]; then echo 'LOG-ERR no such file'; elif [ ! -r {f} ]; then "
            f"echo 'LOG-ERR permission denied reading it'; else "
            f"_i=$(ls -di {f} | awk '{{print $1}}'); _s=$(wc -c < {f} | tr -d ' '); echo \"P $_i:$_s\"")
    if cursor is None:
        return head + "; fi"
    inode, _, offset = cursor.partition(":")
    off = int(offset) if offset.isdigit() else 0
    return (head + f"; _o={off}; if [ \"$_i\" != {q(inode)} ] || [ \"$_s\" -lt $_o ]; then "
            "echo 'ROTATED'; _o=0; fi; "
            f"tail -c +$((_o + 1)) {f} | head -c $((_s - _o)) | {awk}; fi")


def parse_log(output: str, rc: int | None) -> LogRead:
    """What a log snippet printed; an error keeps the old cursor (the caller's), so nothing is skipped."""
    cursor, count, lines, errors, note = None, 0, [], [], ""
    for line in output.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "P" and cursor is None:
            cursor = rest.strip()
        elif tag == "N" and rest.strip().isdigit():
            count = int(rest)
        elif tag == "L":
            lines.append(rest)
        elif tag == "LOG-ERR":
            errors.append(rest)
        elif tag == "ROTATED":
            note = "the file was replaced (rotated): lines written to the old one after the last round are not counted"
    if errors or rc is None:
        return LogRead(None, 0, (), "; ".join(errors) or "no answer from the check")
    if cursor is None:
        return LogRead(None, 0, (), output.strip()[-200:] or f"no answer (exit {rc})")
    return LogRead(cursor, count, tuple(lines[-KEPT_LINES:]), "", note)
