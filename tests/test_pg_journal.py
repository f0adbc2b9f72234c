"""The PostgreSQL journal against a real server (issue 28): fencing across processes, a skewed client
clock, an outage mid-cutover, a statement cut by the timeout, and ``journal copy`` both ways.

The contract shared with the SQLite file is tests/test_journal_contract.py.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cockpitcfg import write_config
from pg import PgCluster
from services import need

from cockpit.config import load_config
from cockpit.journal import (
    Journal,
    JournalError,
    JournalUnavailable,
    LeaseLost,
    PgJournal,
    copy_journal,
)
from cockpit.model import StatusChange
from cockpit.session import Session

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "pg_driver.py"


class Driver:
    """tests/pg_driver.py in its own process (optionally under a command prefix such as faketime)."""

    def __init__(self, url: str, operator: str, prefix: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([*prefix, sys.executable, str(DRIVER), url, operator], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, line: str, timeout: float = 60) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        import select

        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no answer to {line!r} in {timeout}s"
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            try:
                self.ask("quit", timeout=10)
            except AssertionError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def drivers() -> Iterator[list[Driver]]:
    made: list[Driver] = []
    yield made
    for d in made:
        d.close()


def test_a_frozen_ex_drivers_intent_is_refused_by_the_database(postgres: str, drivers: list[Driver]) -> None:
    alice = Driver(postgres, "alice")
    drivers.append(alice)
    assert alice.ask("acquire").startswith("ACQUIRED")
    assert alice.ask("intent").startswith("INTENT")
    os.kill(alice.proc.pid, signal.SIGSTOP)  # frozen: no heartbeat, holds its generation
    with PgJournal(postgres, "bob") as bob:
        time.sleep(0.05)
        taken = bob.take_over("bob", "jump2", 2, 0.0, reason="alice's laptop froze", ttl=0.0)
        assert taken.ours and taken.generation == 2
        os.kill(alice.proc.pid, signal.SIGCONT)
        answer = alice.ask("intent")
        assert answer.startswith("REFUSED") and "lost the driver lease" in answer and "generation 2, ours was 1" in answer
        assert [a["title"] for a in bob.actions()] == ["mark"]  # only the one fired before the freeze


def test_a_client_clock_ten_minutes_off_neither_steals_nor_keeps_the_lease(postgres: str,
                                                                            drivers: list[Driver]) -> None:
    """Under libfaketime every timed wait of the skewed process (the GIL's included) may wake late, so its
    journal is created (migrated) here first, and its answers get a generous bound."""
    faketime = shutil.which("faketime")
    if faketime is None:
        need("faketime", "not installed (apt-get install -y faketime)")
    PgJournal(postgres, "setup").open().close()
    os.environ["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    try:
        skewed = Driver(postgres, "laptop", prefix=(str(faketime), "-f", "-10m"))
    finally:
        os.environ.pop("FAKETIME_DONT_FAKE_MONOTONIC")
    drivers.append(skewed)
    client, journal_time = map(float, skewed.ask("clock").split()[1:])
    assert journal_time - client == pytest.approx(600, abs=30)  # the process really is 10 minutes behind
    assert skewed.ask("acquire").startswith("ACQUIRED")
    beat = float(skewed.ask("beat").split()[1])
    with PgJournal(postgres, "bob") as bob:
        assert beat == pytest.approx(bob.now(), abs=30)  # the heartbeat is on the database's clock, not the laptop's
        with pytest.raises(JournalError, match="held by laptop .*last heartbeat 0 s ago"):
            bob.take_over("bob", "jump2", 2, time.time(), reason="looks stale?", ttl=15)
        assert bob.acquire_lease("bob", "jump2", 2, time.time() + 3600, ttl=15).operator == "laptop"  # not stolen


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A cluster of this test's own: it is stopped and started mid-test."""
    cluster = PgCluster()
    try:
        yield cluster.start()
    finally:
        cluster.close()


def test_a_database_outage_refuses_actions_spools_in_order_marks_the_gap_and_loses_nothing(
        own_cluster: PgCluster, tmp_path: Path) -> None:
    url = own_cluster.new_database()
    j = PgJournal(url, "alice", spool_dir=tmp_path / "state").open()
    try:
        assert j.acquire_lease("alice", "jump1", 1, 0.0).ours
        j.status_changes([StatusChange(1.0, "h1", "web", "up", "down", "before")])
        assert j.spool is not None and j.spool.drain(10)
        own_cluster.stop("fast")
        t = time.monotonic()
        for i in range(20):  # monitoring goes on: observations never wait for the database
            j.status_changes([StatusChange(2.0 + i, "h1", "web", "down" if i % 2 else "up", "up" if i % 2 else "down",
                                           f"during {i}")])
        assert time.monotonic() - t < 1.0
        with pytest.raises(JournalUnavailable, match="unreachable"):
            j.action_intent("restart", "action", "true", [("h1", "true")])
        assert not j.writable
        with pytest.raises(JournalUnavailable):  # refused at once while down, not after a timeout each time
            t = time.monotonic()
            j.action_intent("restart", "action", "true", [("h1", "true")])
        assert time.monotonic() - t < 1.0
        assert (tmp_path / "state" / "journal-observations.jsonl").read_text().count("\n") == 20  # on disk
        own_cluster.start()
        assert j.spool.drain(20), j.spool.last_error
        events = j.timeline()
        kinds = [e["kind"] for e in events]
        gap = kinds.index("journal-gap")
        assert kinds[gap - 1:] == ["status", "journal-gap", *["status"] * 20]
        assert [e["detail"] for e in events[gap + 1:]] == [f"during {i}" for i in range(20)]  # in order
        assert events[gap]["spooled"] == 20 and events[gap]["dropped"] == 0  # what waited on disk: all 20
        assert events[gap]["started"] <= events[gap]["ended"]
        time.sleep(1.1)  # past the reconnect throttle
        aid = j.action_intent("restart", "action", "true", [("h1", "true")])  # re-validated, then written
        assert aid == 1 and j.writable
    finally:
        j.close()


def test_after_an_outage_the_lease_is_revalidated_before_any_intent(own_cluster: PgCluster, tmp_path: Path) -> None:
    url = own_cluster.new_database()
    with PgJournal(url, "alice", spool_dir=tmp_path / "a") as a, PgJournal(url, "bob") as b:
        a.acquire_lease("alice", "jump1", 1, 0.0)
        b.close()
        own_cluster.stop("fast")
        with pytest.raises(JournalUnavailable):
            a.transition("step", "p.s", "running")
        own_cluster.start()
        b.open()
        b.take_over("bob", "jump2", 2, 0.0, reason="alice's network is down", ttl=0.0)  # meanwhile
        time.sleep(1.1)
        with pytest.raises(LeaseLost, match="bob on jump2"):
            a.action_intent("restart", "action", "true", [("h1", "true")])
        assert b.actions() == []


def test_a_slow_statement_is_cut_by_the_timeout_and_observations_do_not_wait(pg_cluster: PgCluster,
                                                                            postgres: str, tmp_path: Path) -> None:

    import psycopg

    j = PgJournal(postgres, "alice", spool_dir=tmp_path / "state", statement_timeout=0.5).open()
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:  # another session holds the log table: every journal write waits for it
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute("BEGIN")
            conn.execute("LOCK TABLE log IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(20)
            conn.execute("ROLLBACK")

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(20)
        time.sleep(0.05)
        # the decision first: an observation spooled before it would race it to the lock (the spool's pump
        # meets the timeout, marks the database unreachable, and the decision is then refused at once)
        t = time.monotonic()
        with pytest.raises(JournalUnavailable, match="statement_timeout"):
            j.transition("step", "p.s", "running")
        took = time.monotonic() - t
        assert 0.4 < took < 3.0, took  # cut by the server after 0.5 s, not left hanging
        t = time.monotonic()
        j.status_changes([StatusChange(1.0, "h1", "web", "up", "down")])
        assert time.monotonic() - t < 0.1  # what the event loop spends: a line appended on disk
    finally:
        release.set()
        holder.join(20)
    assert j.spool is not None and j.spool.drain(10)
    time.sleep(1.1)
    j.transition("step", "p.s", "running")
    assert [e["kind"] for e in j.timeline()][-3:] == ["journal-gap", "status", "transition"] or \
        [e["kind"] for e in j.timeline()][-2:] == ["status", "transition"]
    j.close()


def test_journal_copy_round_trip_sqlite_to_postgresql_and_back_is_idempotent(postgres: str, tmp_path: Path) -> None:
    src = tmp_path / "a.sqlite"
    with Journal(src, "alice") as j:
        j.acquire_lease("alice", "jump1", 1, time.time())
        aid = j.action_intent("restart", "action", "systemctl restart agent", [("h1", "c1"), ("h2", "c2")],
                              step="p.s")
        j.action_host_done(aid, "h2", "ok", 0, 1.0, 2.0, "out ✓", False)
        j.action_host_done(aid, "h1", "failed", 3, 1.0, 2.5, "boom", False)
        j.transition("step", "p.s", "done", reason="by hand")
        j.save_baseline({"x": 1}, 5.0)
        j.status_changes([StatusChange(3.0, "h1", "web", "up", "down")])
        before = j.timeline(output=True)
        runs = j.actions()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cockpit = [sys.executable, "-m", "cockpit"]
    for _ in range(2):  # the second run adds nothing
        done = subprocess.run([*cockpit, "journal", "copy", "--from", str(src), "--to", postgres], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "verified" in done.stdout and "copied 0 new rows" in done.stdout
    with PgJournal(postgres, "reader", readonly=True) as pg:
        assert pg.timeline(output=True) == before and pg.actions() == runs
    back = tmp_path / "b.sqlite"
    done = subprocess.run([*cockpit, "journal", "copy", "--from", postgres, "--to", str(back)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with Journal(back, "reader", readonly=True) as j:
        assert j.timeline(output=True) == before and [a["runs"] for a in j.actions()] == [a["runs"] for a in runs]
    with Journal(src, "alice") as j:  # a journal with more rows than the source is another cutover: refused
        with pytest.raises(JournalError, match="another journal"):
            copy_journal(Journal(tmp_path / "empty.sqlite", "x").open(), j)


async def _until(what: str, check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():  # bounded by the deadline
        assert time.monotonic() < deadline, f"not within {timeout:g}s: {what}"
        await asyncio.sleep(0.1)


def _spooled(state: Path) -> list[dict[str, object]]:
    f = state / "journal-observations.jsonl"
    return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []


async def test_a_database_stopped_mid_cutover_refuses_actions_while_monitoring_goes_on_and_loses_nothing(
        fleet, own_cluster: PgCluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The whole session on a real fleet: the engine keeps polling through the outage, its status changes are
    spooled and land in order after a journal-gap record; an action is refused with the reason while the
    database is away and fires once it is back (the lease re-validated first)."""
    url = own_cluster.new_database()
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    state = tmp_path / "state"
    services = f'[services.agent]\non = ["all"]\nsystemd = "fleet-agent"\n\n[journal]\npath = "{url}"\nlease_ttl = "3s"\n'
    config = write_config(tmp_path, fleet, services, cockpit={"state_dir": str(state)})
    s = Session(load_config(config), "alice")
    assert s.journal is not None and s.lease is not None and s.lease.ours, s.journal_problem
    await s.start()
    try:
        await _until("a first round", lambda: s.engine.snapshot().round >= 1)
        own_cluster.stop("fast")
        fleet.set_systemd("h2", "fleet-agent", "failed failed")
        await _until("h2's agent seen down while the database is away",
                     lambda: any(e["host"] == "h2" and e["service"] == "agent" for e in _spooled(state)))
        with pytest.raises(JournalError, match="unreachable|did not answer"):
            await s.engine.actions.run("mark", "true", ["h1"], timeout=10.0, operator="alice")
        await _until("the outage banner", lambda: s.runbook.banner.startswith("JOURNAL DATABASE UNREACHABLE"))
        fleet.set_systemd("h2", "fleet-agent", "active running")
        await _until("h2's agent seen up again", lambda: sum(
            e["host"] == "h2" and e["service"] == "agent" for e in _spooled(state)) >= 2)
        during = [(e["host"], e["service"], e["new"]) for e in _spooled(state)]
        own_cluster.start()
        journal = s.journal
        assert journal is not None
        await _until("the spool flushed", lambda: journal.spool is not None and journal.spool.pending == 0, 60)
        await _until("the banner cleared by a good heartbeat", lambda: not s.runbook.banner, 30)
        log = journal.timeline()
        kinds = [e["kind"] for e in log]
        gap = kinds.index("journal-gap")
        flushed = [(e["host"], e["service"], e["new"]) for e in log[gap + 1:] if e["kind"] == "status"]
        assert flushed[:len(during)] == during  # every observation, in the order observed
        assert log[gap]["spooled"] >= len(during) and log[gap]["dropped"] == 0
        await asyncio.sleep(1.1)  # past the reconnect throttle
        run = await s.engine.actions.run("mark", "true", ["h1"], timeout=10.0, operator="alice")
        assert [r.state for r in run.runs] == ["ok"]
    finally:
        await s.close()


def _hold_lock(url: str, tables: str, locked: threading.Event, release: threading.Event) -> None:
    """Another session holds ``tables`` locked (every statement on them waits) until ``release``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
        locked.set()
        release.wait(60)
        conn.execute("ROLLBACK")


async def _ticker(stalls: list[float]) -> None:
    """Appends how long past its 50 ms sleep the event loop took to run it again (a stall), until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(0.05)
        stalls.append(loop.time() - t - 0.05)


async def test_a_slow_database_never_stalls_the_cockpit_screen(postgres: str, tmp_path: Path) -> None:
    """The TUI on a PostgreSQL journal whose lease row another session keeps locked: the heartbeat's statement
    is cut by statement_timeout (3 s) and says so in the banner, while the screen keeps answering (the event
    loop never waits for it); once the lock goes, a good heartbeat clears the banner."""

    from test_journal_problems import config_for
    from test_ui_pilot import until

    from screens.app import CockpitApp

    config = load_config(config_for(tmp_path, postgres, ttl="3s"))  # type: ignore[arg-type]
    session = Session(config, "alice")
    assert session.lease is not None and session.lease.ours, session.journal_problem
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    locked, release = threading.Event(), threading.Event()
    hold_lock = functools.partial(_hold_lock, postgres, "lease", locked, release)

    holder = threading.Thread(target=hold_lock)
    async with app.run_test(size=(160, 48)) as pilot:
        dash = app.dashboard
        stalls: list[float] = []
        tick = asyncio.create_task(_ticker(stalls))
        try:
            holder.start()
            assert locked.wait(20)
            await until(pilot, lambda: "JOURNAL DATABASE UNREACHABLE" in str(dash.query_one("#banner").render()),
                        timeout=30)
            banner = str(dash.query_one("#banner").render())
            assert "statement_timeout" in banner and "actions are refused" in banner
            await pilot.pause(0.3)  # let the ticker record the wake-up that follows any stall
            assert max(stalls) < 1.5, max(stalls)  # the 3 s statement never held the screen
            release.set()
            await until(pilot, lambda: "UNREACHABLE" not in str(dash.query_one("#banner").render()), timeout=30)
            assert session.lease is not None and session.lease.ours  # an outage is not a lost lease
        finally:
            release.set()
            tick.cancel()
            holder.join(20)


def test_a_password_in_the_journal_url_is_a_config_error_that_does_not_repeat_it(tmp_path: Path) -> None:
    from test_journal_problems import config_for

    path = config_for(tmp_path, "postgresql://cockpit:hunter2-secret@db.example.net/cutover")  # type: ignore[arg-type]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "cockpit", "validate", "-c", str(path)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "[journal.path]" in out and "password" in out and "PGPASSWORD" in out
    assert "hunter2" not in out and "Traceback" not in out
    fine = config_for(tmp_path, "postgresql://cockpit@db.example.net/cutover")  # type: ignore[arg-type]
    assert load_config(fine).journal.url == "postgresql://cockpit@db.example.net/cutover"
    assert load_config(fine).journal.path is None


def test_two_cockpits_sharing_a_state_dir_never_flush_one_spool_twice(postgres: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with PgJournal(postgres, "alice", spool_dir=state) as a, PgJournal(postgres, "bob", spool_dir=state) as b:
        assert a.spool is not None and b.spool is None  # one owner of the spool: the first
        a.status_changes([StatusChange(1.0, "h1", "web", "up", "down")])
        b.status_changes([StatusChange(2.0, "h2", "web", "up", "down")])  # written directly
        assert a.spool.drain(10)
        assert sorted(e["host"] for e in a.timeline() if e["kind"] == "status") == ["h1", "h2"]


def test_a_damaged_spool_line_is_skipped_and_counted_never_fatal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A line cut by a crash mid-write (or another process's bytes) must not kill the spool's pump."""
    from cockpit.journal.obspool import ObservationSpool
    from cockpit.model import StatusChange

    spool = ObservationSpool(tmp_path, lambda *a, **k: None)  # type: ignore[arg-type]
    ev = StatusChange(host="h1", service="web", old="up", new="down", detail="x", at=1.0)
    spool.append([ev])
    with spool.file.open("a") as f:
        f.write('{"host": "h1", "serv\n')
    spool.append([ev])
    events, _size = spool._read(0)
    assert [e for _, e in events] == [ev, ev] and spool.dropped == 1


async def test_an_intent_and_a_decision_on_a_slow_database_never_stall_the_event_loop(postgres: str,
                                                                                     tmp_path: Path) -> None:
    """Another session holds the actions and transitions tables locked: the intent of an action and a step's
    skip each wait for the 3 s statement_timeout and are refused, saying so, while the event loop keeps
    running (the screen and the pollers never wait for the database); nothing fired. Once the lock goes, the
    same action fires and is journaled."""

    from test_journal_problems import config_for

    from cockpit.errors import RunbookError

    marker = tmp_path / "fired"
    s = Session(load_config(config_for(tmp_path, postgres)), "alice")  # type: ignore[arg-type]
    assert s.lease is not None and s.lease.ours, s.journal_problem
    locked, release = threading.Event(), threading.Event()
    hold_lock = functools.partial(_hold_lock, postgres, "actions, transitions", locked, release)

    stalls: list[float] = []
    holder = threading.Thread(target=hold_lock)
    tick = asyncio.create_task(_ticker(stalls))
    try:
        holder.start()
        assert locked.wait(20)
        await asyncio.sleep(0.2)  # the ticker runs
        t0 = time.monotonic()
        with pytest.raises(JournalError, match="statement_timeout"):
            await s.engine.actions.start("mark", f"touch {marker}", ["me"], timeout=10)
        assert time.monotonic() - t0 >= 2.5  # it did wait for the database ...
        with pytest.raises(RunbookError, match="statement_timeout"):
            await s.runbook.skip_step("p.s", "not needed here")
        await asyncio.sleep(0.2)  # let the ticker record the wake-up that follows any stall
        assert max(stalls) < 1.0, max(stalls)  # ... but the event loop never did
        assert not marker.exists() and not s.engine.actions.history  # refused before anything fired
        release.set()
        holder.join(20)
        run = await s.engine.actions.run("mark", f"touch {marker}", ["me"], timeout=10, operator="alice")
        assert [r.state for r in run.runs] == ["ok"] and marker.exists()
        assert s.journal is not None
        rows = [a for a in s.journal.actions() if a["title"] == "mark"]
        assert [[r["state"] for r in a["runs"]] for a in rows] == [["ok"]], rows
    finally:
        release.set()
        tick.cancel()
        holder.join(20)
        await s.close()
