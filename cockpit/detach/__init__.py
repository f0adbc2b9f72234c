"""Detached steps: a long command that runs on the host without the SSH connection.

An ordinary command lives as long as its SSH channel. A detached job is started by
one short SSH command and then lives on its own on the host, so a dropped
connection, a restarted sshd or a restarted cockpit do not stop it. Everything the
cockpit needs to find it again is in files on the host and in :class:`DetachedJob`
(which the journal keeps)::

    ~/.cache/cutover-cockpit/            mode 700
        JOB.out    stdout and stderr of the command, appended as it runs
        JOB.pgid   the job's process-group id (written by the job itself)
        JOB.rc     the exit status, written atomically (tmp + mv) when the command ends
        JOB.killed written by :func:`kill` before it signals: "killed", not "unknown"
        JOB.cmd    the command (in no argv)
        JOB.in     its env's export lines, opened and deleted by the runner as it starts

The job runs ``sh JOB.cmd`` under a small runner shell in a session of its own
(``setsid(1)``; where that is missing, perl's ``POSIX::setsid``; as a last resort
``nohup``, which leaves it in the process group of the short SSH session that
started it), stdin from /dev/null (or JOB.in). The short SSH command returns as
soon as the runner has written its group id; the runner is then re-parented to
init (or a subreaper), outside sshd's process tree.

Each of :func:`start`, :func:`poll`, :func:`kill` and :func:`cleanup` is one
short SSH command (POSIX sh, ``ps``/``od``/``tail``/``head`` on the host). They
take an :class:`cockpit.engine.scheduler.Engine` with a host name, or a transport.
:func:`follow` polls until the outcome is known, riding out dropped connections.

What cannot be known: a job whose group is gone without a ``.rc`` file (killed
with SIGKILL by someone else, OOM-killed, host rebooted) has an unknown outcome
(``rc None``, ``alive False``). Group ids are checked with ``kill -0`` and ``ps``:
after a host has run long enough to reuse the id for another process group of the
same user, a vanished job could look alive; the ``.rc`` file decides whenever it
exists.

The code is in three modules, re-exported here (import from this one):
:mod:`cockpit.detach.job` (the job's record and the sh scripts),
:mod:`cockpit.detach.control` (the API: start, poll, follow, kill, cleanup) and
:mod:`cockpit.detach.runner` (``ActionRunner.detached``, :func:`resume`,
:data:`KEEP_RUNNING`). They import one another in that order, never back.
"""

from __future__ import annotations

from cockpit.detach.control import COMMAND_TIMEOUT, RETRY_MAX, RETRY_MIN, cleanup, follow, kill, poll, start
from cockpit.detach.job import (
    JOB_DIR,
    POLL_BYTES,
    START_WAIT,
    DetachedJob,
    Outcome,
    Progress,
    cleanup_script,
    job_offset,
    kill_script,
    new_job_id,
    poll_script,
    start_script,
    valid_job_id,
)
from cockpit.detach.runner import KEEP_RUNNING, OFFSET_EVERY, RESUME_TAIL, action_runner, resume
from cockpit.errors import DetachError, DetachTimeout

__all__ = [
    "COMMAND_TIMEOUT",
    "DetachError",
    "DetachTimeout",
    "DetachedJob",
    "JOB_DIR",
    "KEEP_RUNNING",
    "OFFSET_EVERY",
    "Outcome",
    "POLL_BYTES",
    "Progress",
    "RESUME_TAIL",
    "RETRY_MAX",
    "RETRY_MIN",
    "START_WAIT",
    "action_runner",
    "cleanup",
    "cleanup_script",
    "follow",
    "job_offset",
    "kill",
    "kill_script",
    "new_job_id",
    "poll",
    "poll_script",
    "resume",
    "start",
    "start_script",
    "valid_job_id",
]
