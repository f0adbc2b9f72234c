"""A detached job's record, and the POSIX sh that starts, polls, kills and cleans it up on the host.

Pure text and data: nothing here talks to a host. :mod:`cockpit.detach.control`
runs these scripts; :mod:`cockpit.detach` describes the files they keep.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from dataclasses import asdict, dataclass
from typing import Any, Literal

JOB_DIR = "~/.cache/cutover-cockpit"
POLL_BYTES = 64 * 1024  # output bytes fetched per poll at most
START_WAIT = 5.0  # seconds start() waits for the job to report its process group

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

Outcome = Literal["running", "exited", "killed", "unknown"]


@dataclass(frozen=True)
class DetachedJob:
    """Where a detached job runs: enough to poll, kill or clean it up from any cockpit process."""

    host: str
    job_id: str
    dir: str  # absolute directory on the host holding the job's files
    pgid: int

    @property
    def path(self) -> str:
        """The files' common prefix on the host (``JOB.out``, ``JOB.rc``, ...)."""
        return f"{self.dir}/{self.job_id}"

    def to_dict(self, offset: int = 0) -> dict[str, Any]:
        """The journal's form: host, job_id, dir, pgid and the output offset already shown."""
        return {**asdict(self), "offset": int(offset)}

    def to_json(self, offset: int = 0) -> str:
        return json.dumps(self.to_dict(offset), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | str) -> DetachedJob:
        """From :meth:`to_dict` (or its JSON); ``offset`` is ignored here (see :func:`job_offset`)."""
        if isinstance(d, str):
            d = json.loads(d)
        assert isinstance(d, dict)
        return cls(host=str(d["host"]), job_id=valid_job_id(str(d["job_id"])), dir=str(d["dir"]), pgid=int(d["pgid"]))


def job_offset(d: dict[str, Any] | str | None) -> int:
    """The output offset stored with a job in the journal (0 when absent)."""
    if d is None:
        return 0
    if isinstance(d, str):
        d = json.loads(d)
    return int(d.get("offset", 0) or 0)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Progress:
    """One look at a job. ``offset`` is the byte offset after ``output`` (computed on the host)."""

    rc: int | None  # the exit status once the command has ended, else None
    output: str  # output since the offset asked for (at most POLL_BYTES bytes, whole UTF-8 characters)
    offset: int
    alive: bool  # some process of the job's group is still running (zombies do not count)
    killed: bool = False  # kill() was called on it (by any cockpit)
    size: int = 0  # bytes in JOB.out at the time of the poll

    @property
    def ended(self) -> bool:
        """Nothing more will happen: the exit status is known or the group is gone."""
        return self.rc is not None or not self.alive

    @property
    def drained(self) -> bool:
        """All output written so far has been read."""
        return self.offset >= self.size

    @property
    def outcome(self) -> Outcome:
        """running; exited (see ``rc``); killed (by :func:`kill`); unknown (gone without an rc)."""
        if self.rc is not None:
            return "exited"
        if self.alive:
            return "running"
        return "killed" if self.killed else "unknown"


def valid_job_id(job_id: str) -> str:
    """A job id is a file name: letters, digits, ``.``, ``_``, ``-``; not starting with a dot or dash."""
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"bad job id {job_id!r}: use letters, digits, '.', '_' and '-' (at most 128)")
    return job_id


def new_job_id(action_id: int | str, host: str) -> str:
    """``ck-<action id>-<host>-<random>``: unique, and safe as a file name on the host."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", host)[:60] or "host"
    return valid_job_id(f"ck-{action_id}-{safe}-{secrets.token_hex(4)}")

# -- the scripts run on the host (one short SSH command each) ------------------------------------


#: ``alive``: exit 0 when a process of group $P is running. ``kill -0`` first (cheap); then ``ps``, because
#: a group of zombies still takes signals (an init that does not reap, as in many containers). No ``ps``:
#: trust ``kill -0``.
_ALIVE = (
    'alive() { kill -0 -"$P" 2>/dev/null || return 1; '
    'L=$(ps -A -o pgid= -o stat= 2>/dev/null) || L=$(ps -o pgid= -o stat= 2>/dev/null) || return 0; '
    '[ -n "$L" ] || return 0; '
    'printf "%s\\n" "$L" | awk -v p="$P" \'$1 == p && $2 !~ /^Z/ { f = 1 } END { exit f ? 0 : 1 }\'; }; '
)

#: The runner, in its own session: report the group id, run the command (from ``JOB.cmd``; its stdin from
#: ``JOB.in``, opened then deleted at once), write the exit status atomically.
_RUNNER = (
    'J=$1; G=$(ps -o pgid= -p $$ 2>/dev/null | tr -d " "); case "$G" in ""|*[!0-9]*) G=$$;; esac; '
    'printf "%s\\n" "$G" > "$J.pgid.tmp" && mv -f "$J.pgid.tmp" "$J.pgid"; '
    'if [ -e "$J.in" ]; then exec 3<"$J.in"; rm -f "$J.in"; sh "$J.cmd" <&3 3<&-; rc=$?; '
    'else sh "$J.cmd" </dev/null; rc=$?; fi; '
    'printf "%s\\n" "$rc" > "$J.rc.tmp" && mv -f "$J.rc.tmp" "$J.rc"'
)


_PERL_SETSID = "POSIX::setsid(); exec @ARGV or die qq(exec: $!)"


def start_script(command: str, job_id: str, base: str = JOB_DIR, stdin: str | None = None) -> str:
    """The script (sent on stdin) that starts a job; prints ``CKSTART <dir> <pgid>``.

    ``command`` goes into ``JOB.cmd`` and ``stdin`` into ``JOB.in`` (both 0600 in the 0700 job directory),
    written by the shell's builtin ``printf``: neither is ever in an argv.
    """
    valid_job_id(job_id)
    if base == "~" or base.startswith("~/"):
        dir_expr = '"$HOME"' + shlex.quote(base[1:]) if base != "~" else '"$HOME"'
    else:
        dir_expr = shlex.quote(base)
    return (
        '[ -n "$HOME" ] || { echo "HOME is not set" >&2; exit 2; }; '
        f"D={dir_expr}; "
        '(umask 077 && mkdir -p "$D") && chmod 700 "$D" || exit 2; '
        'D=$(CDPATH= cd -- "$D" && pwd -P) || exit 2; '
        f"J=\"$D\"/{job_id}; "
        '(umask 077 && set -C && : > "$J.out") 2>/dev/null || { echo "job $J exists already" >&2; exit 3; }; '
        'rm -f "$J.rc" "$J.rc.tmp" "$J.pgid" "$J.killed" "$J.in"; '
        f"(umask 077 && printf '%s\\n' {shlex.quote(command)} > \"$J.cmd\") || exit 2; "
        + (f"(umask 077 && printf '%s' {shlex.quote(stdin)} > \"$J.in\") || exit 2; " if stdin else "") +
        f"R={shlex.quote(_RUNNER)}; "
        'if command -v setsid >/dev/null 2>&1; then '
        'setsid sh -c "$R" ck-detached "$J" </dev/null >>"$J.out" 2>&1 & '
        'elif command -v perl >/dev/null 2>&1; then '  # macOS, BSD: no setsid(1), but perl's POSIX::setsid
        f'perl -MPOSIX -e {shlex.quote(_PERL_SETSID)} sh -c "$R" ck-detached "$J" </dev/null >>"$J.out" 2>&1 & '
        'else '  # last resort: immune to hangups, but in the process group of this SSH session
        'nohup sh -c "$R" ck-detached "$J" </dev/null >>"$J.out" 2>&1 & '
        'fi; '
        'B=$!; i=0; '
        f'while [ ! -s "$J.pgid" ] && [ $i -lt {int(START_WAIT * 20)} ]; do '
        'sleep 0.05 2>/dev/null || sleep 1; i=$((i+1)); done; '
        'G=$(cat "$J.pgid" 2>/dev/null); [ -n "$G" ] || G=$B; '
        'printf "CKSTART %s %s\\n" "$G" "$D"'
    )


def poll_script(job: DetachedJob, offset: int, limit: int = POLL_BYTES) -> str:
    """Prints ``CKJOB alive killed rc size offset count`` then ``count`` bytes of output from ``offset``.

    Liveness is read before the rc, and the rc before the size: when the rc is there,
    the size covers everything the command wrote. The count is cut back to a whole
    UTF-8 character while more output can follow, so the next offset never splits one.
    """
    off, lim = max(0, int(offset)), max(4, int(limit))
    return (
        f"P={int(job.pgid)}; J={shlex.quote(job.path)}; O={off}; N={lim}; " + _ALIVE +
        'if alive; then A=1; else A=0; fi; '
        'R=$(cat "$J.rc" 2>/dev/null); [ -n "$R" ] || R=-; '
        'K=0; [ -e "$J.killed" ] && K=1; '
        '[ -e "$J.out" ] || { echo "no job output file $J.out" >&2; exit 4; }; '
        'S=$(wc -c < "$J.out" | tr -d " "); '
        'C=$((S - O)); [ $C -lt 0 ] && C=0; CAP=0; [ $C -gt $N ] && { C=$N; CAP=1; }; '
        # whole characters: find the last lead byte among the final three and drop it if its sequence is cut
        'if [ $C -gt 0 ] && { [ $CAP = 1 ] || { [ $A = 1 ] && [ "$R" = - ]; }; }; then '
        'T=3; [ $C -lt 3 ] && T=$C; '
        'set -- $(tail -c +$((O + C - T + 1)) "$J.out" 2>/dev/null | head -c $T | od -An -tu1); '
        'k=$#; i=0; CUT=0; '
        'for b in "$@"; do i=$((i+1)); '
        'if [ "$b" -lt 128 ]; then CUT=0; '
        'elif [ "$b" -ge 192 ]; then L=2; [ "$b" -ge 224 ] && L=3; [ "$b" -ge 240 ] && L=4; '
        'if [ $((k - i + 1)) -lt $L ]; then CUT=$((k - i + 1)); else CUT=0; fi; fi; done; '
        'C=$((C - CUT)); fi; '
        'printf "CKJOB %s %s %s %s %s %s\\n" $A $K "$R" $S $((O + C)) $C; '
        '[ $C -gt 0 ] && tail -c +$((O + 1)) "$J.out" | head -c $C; exit 0'
    )


def kill_script(job: DetachedJob, grace: float) -> str:
    """Mark the job killed, TERM its group, wait up to ``grace``, KILL what is left; prints ``CKKILL alive``."""
    steps = max(1, int(grace * 10))
    return (
        f"P={int(job.pgid)}; J={shlex.quote(job.path)}; " + _ALIVE +
        'if [ -e "$J.rc" ]; then echo "CKKILL 0"; exit 0; fi; '  # it ended by itself: nothing to kill
        ': > "$J.killed"; kill -TERM -"$P" 2>/dev/null; i=0; '
        f'while alive && [ $i -lt {steps} ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; '
        'alive && kill -KILL -"$P" 2>/dev/null; i=0; '
        'while alive && [ $i -lt 20 ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; '
        'if alive; then echo "CKKILL 1"; else echo "CKKILL 0"; fi'
    )


def cleanup_script(job: DetachedJob) -> str:
    return (
        f"P={int(job.pgid)}; J={shlex.quote(job.path)}; " + _ALIVE +
        'if [ ! -e "$J.rc" ] && alive; then echo "CKCLEAN running"; exit 0; fi; '
        'rm -f "$J.out" "$J.rc" "$J.rc.tmp" "$J.pgid" "$J.pgid.tmp" "$J.killed" "$J.cmd" "$J.in"; echo "CKCLEAN removed"'
    )
