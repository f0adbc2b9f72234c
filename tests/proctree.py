"""Controlling a process tree by pid: freeze, signal, wait, kill.

Used by the test fleet to pause and stop an sshd with everything it forked.
A zombie counts as gone: its reaper may be slow (pid 1 in some containers)
and a zombie runs nothing.
"""

from __future__ import annotations

import signal
import time

import psutil


def signal_all(procs: list[psutil.Process], sig: int) -> None:
    """Send ``sig`` to each process still there."""
    for proc in procs:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass


def wait_stopped(procs: list[psutil.Process], timeout: float = 1.0) -> None:
    """Wait until each process has acted on SIGSTOP (or is gone)."""
    done = {psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD}
    deadline = time.monotonic() + timeout
    for proc in procs:
        while time.monotonic() < deadline:
            try:
                if proc.status() in done:
                    break
            except psutil.Error:
                break
            time.sleep(0.001)


def is_gone(proc: psutil.Process) -> bool:
    """Exited: no such process, or a zombie (its reaper may be slow, e.g. pid 1)."""
    try:
        return proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return True


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait for ``procs`` to exit; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while alive:
        alive = [proc for proc in alive if not is_gone(proc)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    return alive


def kill(procs: list[psutil.Process], timeout: float = 2.0) -> None:
    """SIGTERM (continuing stopped ones), then SIGKILL what is left."""
    signal_all(procs, signal.SIGTERM)
    signal_all(procs, signal.SIGCONT)
    alive = wait_gone(procs, timeout)
    signal_all(alive, signal.SIGKILL)
    wait_gone(alive, timeout)


def has_ancestor_in(proc: psutil.Process, pids: set[int]) -> bool:
    """Whether ``proc`` descends from one of ``pids`` (not an orphan of them)."""
    try:
        return any(parent.pid in pids for parent in proc.parents())
    except psutil.Error:
        return True  # gone or unreadable: leave it alone


def freeze_tree(top: psutil.Process, descendants: bool = True) -> list[psutil.Process]:
    """SIGSTOP ``top`` (and its descendants) until no new child appears.

    A process forking while we signal it may hand us a child we have not
    seen yet; once a process is stopped it forks no more, so repeat.
    """
    frozen: dict[int, psutil.Process] = {}
    for _ in range(100):
        fresh = [proc for proc in tree(top, descendants) if proc.pid not in frozen]
        if not fresh:
            break
        signal_all(fresh, signal.SIGSTOP)
        wait_stopped(fresh)
        frozen.update((proc.pid, proc) for proc in fresh)
    return list(frozen.values())


def tree(top: psutil.Process, descendants: bool = True) -> list[psutil.Process]:
    """``top`` and (optionally) every descendant; empty if ``top`` is gone."""
    try:
        return [top, *top.children(recursive=True)] if descendants else [top]
    except psutil.NoSuchProcess:
        return []
