"""The SSH command wrapper and the load sample, run by this machine's own sh (no network).

The wrapper must hand out the id of a process group holding everything the command
starts, whether the login shell is already a group leader (OpenSSH: no setsid, no
extra shell) or not (setsid makes the group).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from cockpit.engine import LoadTracker, load_snippet
from cockpit.transports import PGID_MARKER, wrap_remote

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")


def _start(command: str, new_session: bool) -> tuple[subprocess.Popen[str], int]:
    """Run the wrapped command as sshd would (a login shell, ``sh -c``); return it and the group it reports."""
    proc = subprocess.Popen(["sh", "-c", wrap_remote(command)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=new_session)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith(PGID_MARKER), line
    return proc, int(line[len(PGID_MARKER):])


@pytest.mark.parametrize("leader", [True, False], ids=["group-leader-direct", "setsid"])
def test_the_reported_group_holds_every_process_the_command_starts(leader: bool) -> None:
    marker = f"ckwrap{time.time_ns() % 10**9}"
    proc, pgid = _start(f"sh -c 'sleep 300 # {marker}' & sh -c 'sleep 301 # {marker}' & wait", leader)
    try:
        def mine() -> list[psutil.Process]:
            return [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]

        for _ in range(100):
            if len(mine()) >= 2:
                break
            time.sleep(0.02)
        assert len(mine()) >= 2
        assert {os.getpgid(p.pid) for p in mine()} == {pgid}
        assert pgid != os.getpgid(0)  # never the cockpit's own group
        if leader:  # the login shell itself became the command: no setsid, no second shell
            assert pgid == proc.pid
        os.killpg(pgid, signal.SIGTERM)
        proc.wait(timeout=10)
        for _ in range(100):
            if not mine():
                break
            time.sleep(0.02)
        assert mine() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_direct_path_keeps_quoting_and_stdin_closed() -> None:
    proc = subprocess.run(["sh", "-c", wrap_remote("printf '%s|' \"a b\" '$HOME' ; cat")], input="never read",
                          capture_output=True, text=True, start_new_session=True, timeout=10)
    assert proc.stdout == "a b|$HOME|"


def _sample(**kw: bool) -> str:
    return subprocess.run(["sh", "-c", load_snippet(("/",), **kw)], capture_output=True, text=True, timeout=10).stdout


def test_load_sample_reads_proc_with_builtins_and_df_only_when_due() -> None:
    t = LoadTracker(disk_every=30.0)
    assert t.wants_disk(now=100.0)
    first = t.parse(_sample(prime=True, disk=True, ncpu=True))
    assert first.cpu is not None and 0 <= first.cpu <= 100
    assert first.mem is not None and first.mem_total_kb and first.load1 is not None
    assert first.ncpu == os.cpu_count()
    assert [m for m, _ in first.disks] == ["/"]
    time.sleep(0.1)  # /proc/stat counts in 10 ms ticks
    warm = _sample(prime=False, disk=False, ncpu=False)
    assert "@df" not in warm and "@ncpu" not in warm
    second = t.parse(warm)
    assert second.cpu is not None and second.ncpu == first.ncpu
    assert second.disks == first.disks  # the last df figure stands until the next one
    assert not t.wants_disk() and t.wants_disk(now=time.monotonic() + 31)
    assert "@df" in t.snippet(("/",), now=time.monotonic() + 31) and "getconf" not in t.snippet(("/",))


def test_a_warm_load_sample_starts_no_process() -> None:
    """The warm sample on Linux is builtins only: strace counts the processes it forks."""
    strace = subprocess.run(["sh", "-c", "command -v strace"], capture_output=True, text=True).stdout.strip()
    if not strace:
        pytest.skip("strace not installed")
    out = subprocess.run([strace, "-f", "-e", "trace=execve", "sh", "-c", load_snippet(("/",), disk=False, ncpu=False)],
                         capture_output=True, text=True, timeout=10)
    execs = [ln for ln in out.stderr.splitlines() if "execve(" in ln and "= 0" in ln]
    assert len(execs) == 1, execs  # sh itself
