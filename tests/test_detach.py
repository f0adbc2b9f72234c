"""Detached steps against the real loopback fleet: survive sshd restarts and cockpit deaths, cancel, unknown.

Every job runs on h1 as the fleet's test user; its processes are found with psutil
(the fleet is on this machine) by the job's process group or a marker in the
command line. Zombies count as gone: pid 1 here does not reap orphans.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cockpitcfg import write_config

from cockpit import detach
from cockpit.journal import schema as journal_schema
from cockpit.config import load_config
from cockpit.detach import DetachedJob, Progress
from cockpit.journal import Journal
from cockpit.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
TICKS = 6


def ticks_command(n: int = TICKS, marker: str = "", rc: int = 3) -> str:
    tag = f": {marker}; " if marker else ""
    return f"{tag}for i in $(seq 1 {n}); do echo tick $i; sleep 1; done; exit {rc}"


def expected_ticks(n: int = TICKS) -> str:
    return "".join(f"tick {i}\n" for i in range(1, n + 1))


def _live(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def group_procs(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of a process group on this machine."""
    found = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid:
                found.append(p)
        except (ProcessLookupError, psutil.Error, OSError):
            pass
    return _live(found)


def _job_command(part: str) -> str:
    """A job's command: its runner (``... ck-detached JOB``) and its shell (``sh JOB.cmd``) hold only the path."""
    for path in (part, part + ".cmd"):
        if path.endswith(".cmd") and "/cutover-cockpit/ck-" in path:
            try:
                return Path(path).read_text()
            except OSError:
                return ""
    return ""


def marker_procs(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        parts = p.info["cmdline"] or ()
        if p.pid != os.getpid() and any(marker in part or marker in _job_command(part) for part in parts):
            found.append(p)
    return _live(found)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def config_path(fleet, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    return write_config(tmp_path, fleet, hosts=["h1"])


@pytest.fixture
def jobs() -> Iterator[list[DetachedJob]]:
    """Jobs a test started; whatever is left of them is killed by process group after the test."""
    started: list[DetachedJob] = []
    yield started
    for job in started:
        kill_group(job.pgid)


# -- basics ------------------------------------------------------------------------------------


async def test_start_poll_quoting_and_files(fleet, config_path: Path,  # type: ignore[no-untyped-def]
                                            jobs: list[DetachedJob]) -> None:
    async with Engine(load_config(config_path)) as engine:
        job_id = detach.new_job_id(7, "h1")
        # quotes, $(( )) and ; reach the job's own sh untouched: evaluated once, by it
        job = await detach.start(engine, "h1", "echo \"it's $((6*7))\"; echo 'a;b' >&2; exit 5", job_id)
        jobs.append(job)
        assert job.job_id == job_id and job.host == "h1" and job.pgid > 1
        assert job.dir.endswith("/.cache/cutover-cockpit") and job.dir.startswith("/")
        out: list[str] = []
        assert await detach.follow(engine, job, out.append, timeout=10, poll_interval=0.1) == 5
        assert "".join(out) == "it's 42\na;b\n"
        home = Path(job.dir)
        assert (home.stat().st_mode & 0o777) == 0o700
        assert (home / f"{job_id}.rc").read_text() == "5\n"
        with pytest.raises(detach.DetachError, match="exists already"):
            await detach.start(engine, "h1", "true", job_id)
        assert await detach.cleanup(engine, job)
        assert not list(home.glob(f"{job_id}.*"))
        with pytest.raises(ValueError):
            await detach.start(engine, "h1", "true", "../evil")
        assert DetachedJob.from_dict(job.to_json(offset=12)) == job
        assert detach.job_offset(job.to_json(offset=12)) == 12


async def test_polls_in_small_pieces_never_split_a_character(fleet, config_path: Path,  # type: ignore[no-untyped-def]
                                                             jobs: list[DetachedJob]) -> None:
    text = "é€😀x" * 40 + "\n"
    async with Engine(load_config(config_path)) as engine:
        job = await detach.start(engine, "h1", f"printf '%s' '{text}'; sleep 1", detach.new_job_id(1, "h1"))
        jobs.append(job)
        pieces, offset = [], 0
        while True:  # 5 bytes per poll: every 4-byte 😀 falls across a boundary somewhere
            p = await detach.poll(engine, job, offset, limit=5)
            pieces.append(p.output)
            assert p.offset - offset == len(p.output.encode())  # the host counted whole characters
            offset = p.offset
            if p.ended and p.drained:
                break
            if not p.output:
                await asyncio.sleep(0.1)
        assert "".join(pieces) == text and "\ufffd" not in "".join(pieces)
        assert p.rc == 0 and p.outcome == "exited"
        await detach.cleanup(engine, job)


# -- surviving a dropped connection ------------------------------------------------------------


async def test_job_survives_sshd_restart_and_follow_reconnects(fleet, config_path: Path,  # type: ignore[no-untyped-def]
                                                               jobs: list[DetachedJob]) -> None:
    marker = f"ck-survive-{secrets.token_hex(4)}"
    async with Engine(load_config(config_path)) as engine:
        job = await detach.start(engine, "h1", ticks_command(marker=marker), detach.new_job_id(1, "h1"))
        jobs.append(job)
        # daemonized: re-parented away from sshd, in its own session
        sshd = psutil.Process(fleet["h1"].pid)
        sshd_tree = {p.pid for p in [sshd, *sshd.children(recursive=True)]}
        assert group_procs(job.pgid) and not {p.pid for p in group_procs(job.pgid)} & sshd_tree
        assert os.getsid(job.pgid) == job.pgid

        out: list[str] = []
        errors: list[BaseException] = []
        progress: list[Progress] = []
        task = asyncio.create_task(detach.follow(engine, job, out.append, timeout=30, poll_interval=0.3,
                                                 on_progress=progress.append, on_error=errors.append))
        while "tick 2" not in "".join(out):
            await asyncio.sleep(0.1)
        fleet["h1"].stop()  # kills sshd and every session it forked
        assert group_procs(job.pgid), "the detached job died with sshd"
        await asyncio.sleep(1.5)
        fleet["h1"].start()
        rc = await asyncio.wait_for(task, 30)
    assert rc == 3
    assert "".join(out) == expected_ticks()  # every tick, once, in order
    assert errors, "follow never saw the connection drop"
    assert progress[-1].outcome == "exited" and progress[-1].drained
    assert not marker_procs(marker)


# -- a cockpit that dies mid-job -------------------------------------------------------------------

COCKPIT_SCRIPT = """
import asyncio, sys
from cockpit import detach
from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.journal import Journal

config, journal_path, command = sys.argv[1:4]

async def main():
    j = Journal(journal_path, "first-cockpit").open()
    aid = j.action_intent("long step", "step", command, [("h1", command)], step="cutover.long")
    async with Engine(load_config(config)) as engine:
        job = await detach.start(engine, "h1", command, detach.new_job_id(aid, "h1"))
        j.action_host_job(aid, "h1", job.to_json())
        print("STARTED", job.pgid, flush=True)
        await detach.follow(engine, job, None, timeout=60, poll_interval=0.3,
                            on_progress=lambda p: j.action_host_job_offset(aid, "h1", p.offset))

asyncio.run(main())
"""


async def test_restarted_cockpit_reattaches_from_the_journal(  # type: ignore[no-untyped-def]
        fleet, config_path: Path, tmp_path: Path, jobs: list[DetachedJob]) -> None:
    marker = f"ck-reattach-{secrets.token_hex(4)}"
    script = tmp_path / "first_cockpit.py"
    script.write_text(COCKPIT_SCRIPT)
    journal_path = tmp_path / "journal.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, str(script), str(config_path), str(journal_path),
                              ticks_command(marker=marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, start_new_session=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(first.stdout.readline), 20)  # type: ignore[union-attr]
        assert line.startswith(b"STARTED"), first.stderr.read()  # type: ignore[union-attr]
        jobs.append(DetachedJob("h1", "?", "?", int(line.split()[1])))  # for the finalizer's kill
        with Journal(journal_path, "watcher", readonly=True) as peek:  # wait until it took some output
            deadline = time.monotonic() + 10
            while True:
                rows = peek.detached_running()
                if rows and rows[0]["job"]["offset"] >= len("tick 1\ntick 2\n"):
                    break
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        first.send_signal(signal.SIGKILL)  # the cockpit dies mid-job, its connection with it
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        for stream in (first.stdout, first.stderr):
            if stream is not None:
                stream.close()
    assert marker_procs(marker), "the job died with the cockpit"

    with Journal(journal_path, "second-cockpit") as j:
        [row] = j.detached_running()
        assert (row["host"], row["step"], row["state"]) == ("h1", "cutover.long", "running")
        [action] = j.interrupted()
        assert action["runs"][0]["job"]["job_id"] == row["job"]["job_id"]
        assert j.mark_interrupted(time.time(), keep_detached=True) == []  # reattachable: left running
        job, offset = DetachedJob.from_dict(row["job"]), detach.job_offset(row["job"])
        assert offset > 0
        out: list[str] = []
        async with Engine(load_config(config_path)) as engine:
            rc = await detach.follow(engine, job, out.append, timeout=30, poll_interval=0.3, offset=offset)
            assert rc == 3
            whole = (await detach.poll(engine, job, 0)).output
            assert whole == expected_ticks()
            assert whole[:offset] + "".join(out) == whole  # resumed exactly where the dead cockpit stopped
            j.action_host_done(row["action_id"], "h1", "failed", rc, None, time.time(), whole, False)
            j.action_ended(row["action_id"], time.time())
            assert await detach.cleanup(engine, job)
        assert j.detached_running() == []
        assert j.actions()[-1]["runs"][0]["exit_status"] == 3
        assert any(e["kind"] == "action-host-detached" for e in j.timeline())


# -- cancel and outcomes ---------------------------------------------------------------------------


async def test_kill_stops_the_job_and_its_children(fleet, config_path: Path,  # type: ignore[no-untyped-def]
                                                   jobs: list[DetachedJob]) -> None:
    marker = f"ck-cancel-{secrets.token_hex(4)}"
    child = f"sleep 300; : {marker}"
    command = f"sh -c '{child}' & sh -c '{child}' & echo started; wait"
    async with Engine(load_config(config_path)) as engine:
        job = await detach.start(engine, "h1", command, detach.new_job_id(1, "h1"))
        jobs.append(job)
        deadline = time.monotonic() + 5
        while len(marker_procs(marker)) < 4:  # the runner, the job's sh and two children
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        began = time.monotonic()
        assert await detach.kill(engine, job, grace=1.0)
        assert time.monotonic() - began < 5
        assert marker_procs(marker) == [] and group_procs(job.pgid) == []
        p = await detach.poll(engine, job, 0)
        assert (p.rc, p.alive, p.killed, p.outcome, p.output) == (None, False, True, "killed", "started\n")
        assert await detach.follow(engine, job, None, timeout=5) is None
        # a job that ended by itself is not "killed" afterwards
        done = await detach.start(engine, "h1", "exit 0", detach.new_job_id(2, "h1"))
        jobs.append(done)
        assert await detach.follow(engine, done, None, timeout=10, poll_interval=0.1) == 0
        assert await detach.kill(engine, done)
        assert (await detach.poll(engine, done, 0)).outcome == "exited"
        for j in (job, done):
            assert await detach.cleanup(engine, j)


async def test_a_job_killed_behind_our_back_has_an_unknown_outcome(  # type: ignore[no-untyped-def]
        fleet, config_path: Path, jobs: list[DetachedJob]) -> None:
    marker = f"ck-unknown-{secrets.token_hex(4)}"
    async with Engine(load_config(config_path)) as engine:
        job = await detach.start(engine, "h1", f"sleep 300; : {marker}", detach.new_job_id(1, "h1"))
        jobs.append(job)
        running = await detach.poll(engine, job, 0)
        assert (running.alive, running.rc, running.outcome) == (True, None, "running")
        assert not await detach.cleanup(engine, job)  # never removes a running job's files
        kill_group(job.pgid)  # kill -9, as the OOM killer or a reboot would
        deadline = time.monotonic() + 5
        while group_procs(job.pgid):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        p = await detach.poll(engine, job, 0)
        assert (p.alive, p.rc, p.killed, p.outcome) == (False, None, False, "unknown")
        assert await detach.follow(engine, job, None, timeout=5) is None
        assert await detach.cleanup(engine, job)


# -- the journal's side (no fleet) ---------------------------------------------------------------------


def test_a_v1_journal_gains_the_job_column(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    journal_schema.MIGRATIONS[0](conn)  # exactly what a v1 cockpit made
    conn.execute(f"PRAGMA application_id = {journal_schema.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO actions (title, kind, command, operator, started) "
                 "VALUES ('old', 'action', 'x', 'a', 1)")
    conn.execute("INSERT INTO action_hosts (action_id, host, command) VALUES (1, 'h1', 'x')")
    conn.close()
    with Journal(path, "bob") as j:
        assert "migrated_to_v2" in j.meta()
        assert j.actions()[0]["runs"][0]["job"] is None
        assert j.detached_running() == []


def test_keep_detached_leaves_reattachable_hosts_running(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db", "alice") as j:
        aid = j.action_intent("long", "step", "cmd", [("h1", "cmd"), ("h2", "cmd"), ("h3", "cmd")], step="p.s")
        job = DetachedJob("h1", "ck-1-h1-0000", "/home/u/.cache/cutover-cockpit", 4242)
        j.action_host_job(aid, "h1", job.to_json())
        j.action_host_started(aid, "h2", 5.0)
        j.action_host_job_offset(aid, "h1", 77)
        [row] = j.detached_running()
        assert (row["host"], row["state"], row["job"]) == ("h1", "running", job.to_dict(offset=77))
        [marked] = j.mark_interrupted(10.0, keep_detached=True)
        assert marked["hosts"] == ["h2", "h3"] and marked["ended"] is None  # still open: h1 runs on
        assert [(r["host"], r["state"]) for r in j.actions()[0]["runs"]] == [
            ("h1", "running"), ("h2", "interrupted"), ("h3", "interrupted")]
        assert [r["host"] for r in j.detached_running()] == ["h1"]
        j.action_host_done(aid, "h1", "failed", 3, None, 20.0, "tick\n", False)
        j.action_ended(aid, 20.0)
        assert j.detached_running() == [] and j.interrupted() == []
        assert j.actions()[0]["runs"][0]["job"]["job_id"] == "ck-1-h1-0000"
        # without keep_detached a job's host is marked like any other
        aid2 = j.action_intent("long", "step", "cmd", [("h1", "cmd")])
        j.action_host_job(aid2, "h1", job.to_dict())
        [again] = j.mark_interrupted(30.0)
        assert again["runs"][0]["state"] == "interrupted" and again["runs"][0]["job"]["pgid"] == 4242


# -- integration: ActionRunner.detached and resume() ----------------------------------------------------


async def test_action_runner_runs_detached_steps(  # type: ignore[no-untyped-def]
        fleet, config_path: Path, tmp_path: Path) -> None:
    marker = f"ck-runner-{secrets.token_hex(4)}"
    with Journal(tmp_path / "j.db", "alice") as j:
        async with Engine(load_config(config_path)) as engine:
            engine.actions.journal = j
            engine.actions.detached = detach.action_runner(engine, poll_interval=0.2, grace=0.5)
            run = await engine.actions.run("detached", "echo hi; echo oops >&2; exit 4", ["h1"], detach=True)
            r = run.runs[0]
            assert (r.state, r.exit_status, r.output) == ("failed", 4, "hi\noops\n")
            [record] = j.actions()[-1]["runs"]
            job = DetachedJob.from_dict(record["job"])
            assert (record["state"], record["exit_status"]) == ("failed", 4) and j.detached_running() == []
            await asyncio.sleep(0.5)  # cleanup runs once the outcome is journaled
            assert not list(Path(job.dir).glob(f"{job.job_id}.*"))

            slow = await engine.actions.run("slow", f"sleep 30; : {marker}", ["h1"], detach=True, timeout=1.0)
            assert slow.runs[0].state == "timeout" and marker_procs(marker) == []

            first = await engine.actions.start("cancel me", f"sleep 31; : {marker}", ["h1"], detach=True)
            deadline = time.monotonic() + 5
            while not marker_procs(marker):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            engine.actions.cancel(first.id)
            done = await engine.actions.wait(first.id)
            assert done.runs[0].state == "cancelled" and marker_procs(marker) == []

            # cancelled with KEEP_RUNNING (a shutdown): the job runs on, journaled for the next cockpit
            aid = j.action_intent("keep", "step", "x", [("h1", "x")])
            task = asyncio.create_task(engine.actions.detached(aid, "h1", f"sleep 32; : {marker}", 60, None, False))
            while not j.detached_running():
                await asyncio.sleep(0.05)
            task.cancel(detach.KEEP_RUNNING)
            with pytest.raises(asyncio.CancelledError):
                await task
            [row] = j.detached_running()
            assert marker_procs(marker) and (await detach.poll(engine, DetachedJob.from_dict(row["job"]))).alive
            assert await detach.kill(engine, DetachedJob.from_dict(row["job"]), grace=0.5)


async def test_resume_follows_and_journals_the_outcome(  # type: ignore[no-untyped-def]
        fleet, config_path: Path, tmp_path: Path, jobs: list[DetachedJob]) -> None:
    with Journal(tmp_path / "j.db", "alice") as j:
        async with Engine(load_config(config_path)) as engine:
            aid = j.action_intent("two hosts", "step", "cmd", [("h1", "a"), ("h1x", "b")])
            ok = await detach.start(engine, "h1", "echo a; sleep 1; echo b; exit 2", detach.new_job_id(aid, "h1"))
            gone = await detach.start(engine, "h1", "sleep 300", detach.new_job_id(aid, "h1x"))
            jobs += [ok, gone]
            j.action_host_job(aid, "h1", ok.to_json(offset=2))
            j.action_host_job(aid, "h1x", {**gone.to_dict(), "host": "h1"})  # a second row, same machine
            kill_group(gone.pgid)
            rows = j.detached_running()
            assert [r["host"] for r in rows] == ["h1", "h1x"]
            seen: list[str] = []
            p1, p2 = await asyncio.gather(detach.resume(engine, j, rows[0], on_output=seen.append, timeout=15),
                                          detach.resume(engine, j, rows[1], timeout=15))
            assert p1 is not None and p1.rc == 2 and "".join(seen) == "a\nb\n"
            assert p2 is not None and p2.outcome == "unknown"
            [action] = [a for a in j.actions() if a["id"] == aid]
            assert [(r["state"], r["exit_status"], r["output"]) for r in action["runs"]] == [
                ("failed", 2, "a\nb\n"), ("interrupted", None, "")]
            assert action["ended"] is not None and j.detached_running() == []
            assert not list(Path(ok.dir).glob(f"{ok.job_id}.*"))
