"""The durable journal on real SQLite files: schema, durability, resume, errors, lease, reading."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.journal import schema as journal_schema
from cockpit.journal import store as journal_store
from cockpit.errors import CockpitError, LeaseLost
from cockpit.journal import OUTPUT_LIMIT, SCHEMA_VERSION, Journal, JournalBackend, JournalError
from cockpit.model import StatusChange

ROOT = Path(__file__).resolve().parents[1]
T0 = 1795341600.0  # 2026-11-22T10:00:00Z
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "run" / "journal.db"


@pytest.fixture
def journal(path: Path, clock: Clock) -> Iterator[Journal]:
    j = Journal(path, "alice", clock=clock).open()
    yield j
    j.close()


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Ask the file directly, through a connection of its own (what another process would see)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def intent(j: Journal, hosts: tuple[str, ...] = ("h1", "h2"), **kw: object) -> int:
    return j.action_intent("restart agent", "action", "systemctl restart agent",
                           [(h, f"ssh {h} systemctl restart agent") for h in hosts], **kw)  # type: ignore[arg-type]


# -- schema -----------------------------------------------------------------------------------


def test_create_is_wal_versioned_and_stamped(journal: Journal, path: Path) -> None:
    assert journal.writable and journal.last_error == ""
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    assert raw(path, "PRAGMA application_id") == [(journal_schema.APPLICATION_ID,)]
    meta = journal.meta()
    assert meta["created_by"] == "alice" and float(meta["created_at"]) == T0
    assert issubclass(JournalError, CockpitError)


def test_reopen_keeps_records_and_does_not_migrate_again(path: Path, clock: Clock) -> None:
    with Journal(path, "alice", clock=clock) as j:
        j.transition("phase", "prepare", "done")
    clock.now += 60
    with Journal(path, "bob", clock=clock) as j:
        assert j.states() == {("phase", "prepare"): "done"}
        assert float(j.meta()["migrated_to_v1"]) == T0 and j.meta()["created_by"] == "alice"


def test_newer_schema_is_refused_and_left_untouched(path: Path) -> None:
    Journal(path, "alice").open().close()
    raw(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError) as err:
        Journal(path, "alice").open()
    assert f"schema version {SCHEMA_VERSION + 1}" in err.value.message
    assert "upgrade the cockpit" in (err.value.hint or "")
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]


def test_a_v2_is_one_more_step(path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    with Journal(path, "alice", clock=clock) as j:
        j.transition("phase", "prepare", "done")

    def v2(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE transitions ADD COLUMN ticket TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(journal_schema, "MIGRATIONS", (*journal_schema.MIGRATIONS, v2))
    monkeypatch.setattr(journal_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(journal_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    clock.now += 5
    with Journal(path, "alice", clock=clock) as j:
        assert j.states() == {("phase", "prepare"): "done"}
        assert float(j.meta()[f"migrated_to_v{SCHEMA_VERSION + 1}"]) == T0 + 5
    assert raw(path, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]
    assert ("",) in raw(path, "SELECT ticket FROM transitions")


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    raw(other, "CREATE TABLE customers (id INTEGER)")
    with pytest.raises(JournalError, match="not a cockpit journal"):
        Journal(other, "alice").open()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 200)
    with pytest.raises(JournalError, match="is damaged or not a SQLite database"):
        Journal(junk, "alice").open()


def test_open_fails_readably_when_the_directory_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(JournalError) as err:
        Journal(tmp_path / "afile" / "journal.db", "alice").open()
    assert str(tmp_path / "afile" / "journal.db") in err.value.message
    assert "could not be opened" in err.value.message or "cannot be opened" in err.value.message


# -- durability -------------------------------------------------------------------------------


def test_synchronous_is_full_for_intents_and_normal_for_status(journal: Journal) -> None:
    seen: list[str] = []
    journal._conn.set_trace_callback(seen.append)  # type: ignore[union-attr]
    journal.status_changes([StatusChange(T0, "h1", "web", "up", "down")])
    aid = intent(journal)
    journal.transition("step", "decommission.stop-agents", "done")
    journal._conn.set_trace_callback(None)  # type: ignore[union-attr]
    assert seen[:2] == ["PRAGMA synchronous = NORMAL", "BEGIN IMMEDIATE"]
    assert seen[2].startswith("SELECT operator, host, pid, heartbeat, acquired, generation FROM lease")  # the fence
    assert seen[3].startswith("INSERT INTO status_changes")
    first_insert = next(i for i, s in enumerate(seen) if s.startswith("INSERT INTO actions"))
    assert seen[first_insert - 4:first_insert - 1] == ["COMMIT", "PRAGMA synchronous = FULL", "BEGIN IMMEDIATE"]
    assert seen[first_insert - 1].startswith("SELECT operator, host, pid, heartbeat, acquired, generation FROM lease")
    assert seen.count("PRAGMA synchronous = FULL") == 1  # the transition after it stays FULL
    assert aid == 1


def test_the_intent_is_on_disk_before_any_end_and_resume_finds_it(path: Path, clock: Clock) -> None:
    j = Journal(path, "alice", clock=clock).open()
    aid = intent(j, ("h1", "h2", "h3"), phase="decommission", step="decommission.stop-agents")
    # another connection (another process) already sees it, before anything ran
    assert raw(path, f"SELECT title, ended, operator FROM actions WHERE id = {aid}") == [
        ("restart agent", None, "alice")]
    assert raw(path, f"SELECT host, state FROM action_hosts WHERE action_id = {aid}") == [
        ("h1", "pending"), ("h2", "pending"), ("h3", "pending")]
    j.action_host_started(aid, "h1", T0 + 1)
    j.action_host_done(aid, "h1", "ok", 0, T0 + 1, T0 + 2, "stopped\n", False)
    j.action_host_started(aid, "h2", T0 + 1)
    j.close()  # the cockpit "dies": no end for h2, h3 or the action

    clock.now = T0 + 100
    j = Journal(path, "alice", clock=clock).open()
    [found] = j.interrupted()
    assert found["id"] == aid and found["step"] == "decommission.stop-agents" and found["hosts"] == ["h2", "h3"]
    assert [(r["host"], r["state"]) for r in found["runs"]] == [("h1", "ok"), ("h2", "running"), ("h3", "pending")]
    [marked] = j.mark_interrupted(T0 + 100)
    assert marked["id"] == aid and marked["title"] == "restart agent" and marked["phase"] == "decommission"
    assert marked["hosts"] == ["h2", "h3"]
    assert [(r["host"], r["state"], r["was"]) for r in marked["runs"]] == [
        ("h1", "ok", "ok"), ("h2", "interrupted", "running"), ("h3", "interrupted", "pending")]
    assert "outcome unknown" in marked["runs"][1]["error"]
    assert marked["interrupted"] and marked["ended"] == T0 + 100 and marked["ended_iso"] == "2026-11-22T10:01:40Z"
    assert j.interrupted() == [] and j.mark_interrupted(T0 + 200) == []
    assert j.actions()[0]["runs"][2]["state"] == "interrupted"
    last = j.timeline()[-1]
    assert (last["kind"], last["hosts"], last["was"]) == ("action-interrupted", ["h2", "h3"],
                                                          {"h2": "running", "h3": "pending"})
    j.close()


CHILD = """
import os, sys, time
from pathlib import Path
from cockpit.journal import Journal
from cockpit.model import StatusChange
j = Journal(Path(sys.argv[1]), "carol").open()
assert j.acquire_lease("carol", "jump1", os.getpid(), time.time()).ours
aid = j.action_intent("migrate db", "step", "migrate", [("db1", "migrate --on db1"), ("db2", "migrate --on db2")],
                      phase="cutover", step="cutover.migrate")
j.action_host_started(aid, "db1", time.time())
for i in range(50):
    j.status_changes([StatusChange(time.time(), "db1", "pg", "up", "degraded", str(i))])
print(aid, flush=True)
time.sleep(60)
"""


def test_a_sigkilled_driver_leaves_an_intact_journal_and_an_interrupted_action(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}) as proc:
        try:
            assert proc.stdout is not None
            aid = int(proc.stdout.readline())
            assert path.with_name(path.name + "-wal").stat().st_size > 0  # committed, not yet checkpointed
        finally:
            proc.kill()  # SIGKILL: no close, no checkpoint
            proc.wait(timeout=10)
    assert proc.returncode == -9
    assert raw(path, "PRAGMA integrity_check") == [("ok",)]

    j = Journal(path, "dave").open()
    [found] = j.interrupted()
    assert found["id"] == aid and {r["host"]: r["state"] for r in found["runs"]} == {"db1": "running",
                                                                                    "db2": "pending"}
    assert len([e for e in j.timeline() if e["kind"] == "status"]) == 50
    # the dead driver's lease still looks live: marking is refused until it is stale and taken over
    with pytest.raises(JournalError, match="carol on jump1"):
        j.mark_interrupted(time.time())
    later = time.time() + 20
    j.take_over("dave", "jump2", os.getpid(), later, reason="carol's cockpit was killed")
    [marked] = j.mark_interrupted(later)
    assert marked["hosts"] == ["db1", "db2"]
    j.close()


def test_a_finished_action_is_not_interrupted(journal: Journal) -> None:
    aid = intent(journal)
    for h in ("h1", "h2"):
        journal.action_host_started(aid, h, T0 + 1)
        journal.action_host_done(aid, h, "failed" if h == "h2" else "ok", 0 if h == "h1" else 3, T0 + 1, T0 + 4,
                                 f"out {h}", False, "")
    journal.action_ended(aid, T0 + 5)
    assert journal.interrupted() == []
    [a] = journal.actions()
    assert a["operator"] == "alice" and a["started_iso"] == "2026-11-22T10:00:00Z" and a["duration"] == 5.0
    assert a["started"] == T0 and a["ended"] == T0 + 5 and a["hosts"] == ["h1", "h2"]
    assert [(h["host"], h["state"], h["exit_status"], h["output"], h["duration"]) for h in a["runs"]] == [
        ("h1", "ok", 0, "out h1", 3.0), ("h2", "failed", 3, "out h2", 3.0)]
    assert journal.timeline()[-1]["states"] == {"failed": 1, "ok": 1}


def test_output_keeps_the_tail_and_flags_it(journal: Journal) -> None:
    aid = intent(journal, ("h1", "h2", "h3"))
    long = "A" * 1000 + "x" * (OUTPUT_LIMIT - 10) + "THE-END-42"
    journal.action_host_done(aid, "h1", "ok", 0, T0, T0 + 1, long, False)
    journal.action_host_done(aid, "h2", "ok", 0, T0, T0 + 1, "short", True)  # the runner already cut it
    journal.action_host_done(aid, "h3", "ok", 0, T0, T0 + 1, "short", False)
    hosts = {r["host"]: r for r in journal.actions()[0]["runs"]}
    assert len(hosts["h1"]["output"]) == OUTPUT_LIMIT and hosts["h1"]["output"].endswith("THE-END-42")
    assert "A" not in hosts["h1"]["output"] and hosts["h1"]["truncated"]
    assert hosts["h2"]["truncated"] and not hosts["h3"]["truncated"]
    done = [e for e in journal.timeline() if e["kind"] == "action-host-done"]
    assert done[0]["output_chars"] == OUTPUT_LIMIT and "output" not in done[0]
    assert journal.timeline(output=True)[1]["output"].endswith("THE-END-42")


# -- failures become JournalError -------------------------------------------------------------


def test_disk_full_is_a_journal_error_and_probe_recovers(journal: Journal) -> None:
    aid = intent(journal)
    conn = journal._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL path
    with pytest.raises(JournalError) as err:
        journal.action_host_done(aid, "h1", "ok", 0, T0, T0 + 1, "y" * 20000, False)
    message = err.value.message
    assert message.startswith(f"the journal {journal.path} is full: database or disk is full")
    assert message.endswith("actions are refused until it is fixed; monitoring goes on")
    assert "df -h" in (err.value.hint or "") and "Traceback" not in str(err.value)
    assert not journal.writable and journal.last_error == message
    assert journal.actions()[0]["runs"][0]["state"] == "pending"  # nothing half-written
    conn.execute("PRAGMA max_page_count = 1000000")
    assert journal.probe_writable() and journal.writable and journal.last_error == ""
    journal.action_host_done(aid, "h1", "ok", 0, T0, T0 + 1, "y" * 20000, False)


def test_a_read_only_journal_refuses_writes_with_a_clear_message(journal: Journal, path: Path) -> None:
    intent(journal)
    observer = Journal(path, "olga", readonly=True).open()
    try:
        assert not observer.writable and "read-only" in observer.last_error
        assert observer.actions()[0]["title"] == "restart agent"  # reading goes on
        with pytest.raises(JournalError) as err:
            intent(observer)
        assert str(err.value).startswith(
            f"the journal {path} is not writable: attempt to write a readonly database; "
            "actions are refused until it is fixed; monitoring goes on")
        assert not observer.writable and observer.last_error == err.value.message
        assert not observer.probe_writable()
    finally:
        observer.close()
    assert journal.writable and len(journal.actions()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_chmodded_journal_is_not_writable(path: Path, clock: Clock) -> None:
    Journal(path, "alice", clock=clock).open().close()
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        j = Journal(path, "alice", clock=clock)
        try:
            j.open()
        except JournalError as exc:
            assert "not writable" in exc.message or "readonly" in exc.message
            return
        assert not j.writable and "not writable" in j.last_error
        j.close()
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)


def test_a_writer_waits_for_another_process_then_reports_the_lock(path: Path, clock: Clock,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_store, "BUSY_TIMEOUT", 0.3)
    j = Journal(path, "alice", clock=clock).open()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        timer = threading.Timer(0.1, lambda: other.execute("COMMIT"))
        timer.start()
        j.transition("phase", "prepare", "running")  # waited for the other writer
        timer.join()
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(JournalError, match="is locked by another process: database is locked; actions are"):
            j.transition("phase", "prepare", "done")
        assert not j.writable
        other.execute("COMMIT")
        assert j.probe_writable()
        assert [t["state"] for t in j.transitions()] == ["running"]
    finally:
        other.close()
        j.close()


def test_a_bad_record_is_a_bug_not_an_unwritable_journal(journal: Journal) -> None:
    with pytest.raises(ValueError):
        journal.transition("phasee", "prepare", "done")
    assert journal.writable and journal.transitions() == []


# -- lease ------------------------------------------------------------------------------------


def test_lease_driver_observer_heartbeat_and_release(path: Path) -> None:
    driver, observer = Journal(path, "alice").open(), Journal(path, "bob").open()
    try:
        mine = driver.acquire_lease("alice", "jump1", 100, T0)
        assert mine.ours and (mine.operator, mine.host, mine.pid, mine.acquired) == ("alice", "jump1", 100, T0)
        theirs = observer.acquire_lease("bob", "jump2", 200, T0 + 1)
        assert not theirs.ours and theirs.operator == "alice" and theirs.pid == 100
        assert driver.heartbeat(T0 + 5).heartbeat == T0 + 5
        again = driver.acquire_lease("alice", "jump1", 100, T0 + 6)
        assert again.ours and again.acquired == T0
        lease = observer.lease()
        assert lease is not None and not lease.ours and lease.heartbeat == T0 + 6
        assert driver.lease() is not None and driver.lease().ours  # type: ignore[union-attr]
        driver.release()
        assert observer.lease() is None
        assert observer.acquire_lease("bob", "jump2", 200, T0 + 7).ours
        with pytest.raises(JournalError, match="does not hold"):
            driver.heartbeat(T0 + 8)
    finally:
        driver.close()
        observer.close()


def test_take_over_only_a_stale_lease_and_the_old_driver_learns_it(path: Path) -> None:
    driver, other = Journal(path, "alice").open(), Journal(path, "bob").open()
    try:
        driver.acquire_lease("alice", "jump1", 100, T0)
        with pytest.raises(JournalError) as err:
            other.take_over("bob", "jump2", 200, T0 + 10, reason="alice went home", ttl=15)
        assert "alice on jump1 (pid 100)" in err.value.message and "stale" in err.value.message
        with pytest.raises(ValueError):
            other.take_over("bob", "jump2", 200, T0 + 30, reason=" ")
        taken = other.take_over("bob", "jump2", 200, T0 + 30, reason="alice's laptop died", ttl=15)
        assert taken.ours and taken.operator == "bob"
        [t] = other.transitions("lease")
        assert (t["kind"], t["state"], t["reason"], t["operator"]) == (
            "runbook", "taken-over", "alice's laptop died", "bob")
        assert "alice on jump1 (pid 100)" in t["detail"]
        assert other.states()[("runbook", "lease")] == "taken-over"
        with pytest.raises(JournalError, match="lost the driver lease.*bob on jump2"):
            driver.heartbeat(T0 + 31)
        assert driver.writable  # losing the lease is not a broken journal
        assert not driver.acquire_lease("alice", "jump1", 100, T0 + 32).ours
    finally:
        driver.close()
        other.close()


def test_the_same_operator_restarting_on_the_same_host_gets_a_stale_lease_back(path: Path) -> None:
    with Journal(path, "alice") as crashed:
        crashed.acquire_lease("alice", "jump1", 100, T0)
    with Journal(path, "alice") as restarted:
        assert not restarted.acquire_lease("alice", "jump1", 101, T0 + 5).ours  # still live: maybe two terminals
        back = restarted.acquire_lease("alice", "jump1", 101, T0 + 60)
        assert back.ours and back.pid == 101
        assert [e["replaced"] for e in restarted.timeline() if e["kind"] == "lease-acquired"][-1].startswith(
            "alice on jump1 (pid 100)")


def test_fencing_refuses_every_decision_of_a_superseded_driver_and_flags_its_late_outcomes(path: Path) -> None:
    """Issue 13, item 1: a driver that lost the lease (taken over while it was frozen) decides nothing more;
    what its already-fired commands did is still written, flagged, and it is told once."""
    a, b = Journal(path, "alice").open(), Journal(path, "bob").open()
    try:
        first = a.acquire_lease("alice", "jump1", 100, T0)
        aid = intent(a, ("h1", "h2"))  # fired before the freeze
        told: list[str] = []
        a.lease_lost.append(told.append)
        taken = b.take_over("bob", "jump2", 200, T0 + 30, reason="alice froze", ttl=15)
        assert taken.generation == first.generation + 1
        before = raw(path, "SELECT COUNT(*) FROM log")
        decisions = [
            lambda: intent(a, ("h1",)),
            lambda: a.transition("step", "p.s", "running"),
            lambda: a.transition("step", "p.s", "overridden", reason="x"),
            lambda: a.verify_result("p.s", "h1", True),
            lambda: a.gate_result("p", True),
            lambda: a.set_hold("p", T0 + 31),
            lambda: a.save_baseline({"at": T0}, T0 + 31),
            lambda: a.rollback_started("step", "p.s", T0 + 31),
            lambda: a.status_changes([StatusChange(T0 + 31, "h1", "web", "up", "down")]),
            lambda: a.mark_interrupted(T0 + 31),
        ]
        for decide in decisions:
            with pytest.raises(LeaseLost, match=r"lost the driver lease.*bob on jump2 .*generation 2, ours was 1"):
                decide()
        assert raw(path, "SELECT COUNT(*) FROM log") == before  # not one decision written
        assert len(told) == 1 and "bob on jump2" in told[0]
        # the outcome of the command fired before still lands, flagged
        a.action_host_done(aid, "h1", "ok", 0, T0 + 1, T0 + 31, "done\n", False)
        a.action_host_done(aid, "h2", "ok", 0, T0 + 1, T0 + 32, "done\n", False)
        a.action_ended(aid, T0 + 32)
        runs = b.actions()[0]["runs"]
        assert [r["after_lease_lost"] for r in runs] == [True, True]
        done = [e for e in b.timeline() if e["kind"] in ("action-host-done", "action-ended")]
        assert [e.get("after_lease_lost") for e in done] == [True, True, True]
        with pytest.raises(LeaseLost):
            a.heartbeat(T0 + 33)
        assert a.writable and len(told) == 1  # a lost lease is not a broken journal; told once
        # the new driver decides freely; a re-acquire raises the generation again
        b.transition("step", "p.s", "running")
        b.release()
        assert a.acquire_lease("alice", "jump1", 100, T0 + 40).generation == 3
        a.transition("step", "p.s", "done")
    finally:
        a.close()
        b.close()


def test_the_sqlite_journal_is_a_journal_backend(journal: Journal) -> None:
    """What a later PostgreSQL journal implements too (cockpit.journal.backend)."""
    import inspect

    assert isinstance(journal, JournalBackend)
    for name, member in inspect.getmembers(JournalBackend, inspect.isfunction):
        if not name.startswith("_"):
            ours = inspect.signature(getattr(Journal, name))
            assert list(ours.parameters) == list(inspect.signature(member).parameters), name


def test_a_store_that_never_held_the_lease_may_not_decide_while_someone_holds_it(path: Path) -> None:
    with Journal(path, "alice") as driver, Journal(path, "tool") as tool:
        tool.transition("step", "p.s", "pending")  # nobody holds the lease: tools and tests may write
        driver.acquire_lease("alice", "jump1", 100, T0)
        with pytest.raises(LeaseLost, match="held by alice on jump1"):
            tool.transition("step", "p.s", "done")
        assert driver.states()[("step", "p.s")] == "pending"


# -- runbook state, holds, baselines, rollbacks ------------------------------------------------


def test_transitions_overrides_and_states(journal: Journal, clock: Clock) -> None:
    journal.transition("phase", "decommission", "running")
    clock.now += 10
    journal.transition("step", "decommission.stop-agents", "done", detail="3/3 hosts")
    journal.transition("step", "decommission.verify", "overridden", reason="h3 is being rebuilt")
    journal.transition("step", "decommission.cleanup", "skipped", reason="done by hand")
    journal.transition("phase", "decommission", "done")
    assert journal.states() == {
        ("phase", "decommission"): "done", ("step", "decommission.stop-agents"): "done",
        ("step", "decommission.verify"): "overridden", ("step", "decommission.cleanup"): "skipped"}
    history = journal.transitions("decommission")
    assert [t["state"] for t in history] == ["running", "done"]
    assert history[1]["at"] == T0 + 10 and history[1]["at_iso"] == "2026-11-22T10:00:10Z"
    over = journal.transitions("decommission.verify")[0]
    assert over["reason"] == "h3 is being rebuilt" and over["operator"] == "alice"


def test_hold_survives_reopen(path: Path, clock: Clock) -> None:
    with Journal(path, "alice", clock=clock) as j:
        j.set_hold("cutover", T0 + 3)
        j.set_hold("verify", T0 + 4)
        j.set_hold("verify", None)
    with Journal(path, "alice", clock=clock) as j:
        assert j.hold("cutover") == T0 + 3 and j.hold("verify") is None and j.holds() == {"cutover": T0 + 3}
        assert [e["since_iso"] for e in j.timeline() if e["kind"] == "hold"] == ["2026-11-22T10:00:03Z",
                                                                                 "2026-11-22T10:00:04Z", None]


def test_verify_and_gate_results(journal: Journal) -> None:
    journal.verify_result("decommission.stop-agents", "h1", True, "inactive")
    journal.verify_result("decommission.stop-agents", "h2", None, "unreachable")
    journal.gate_result("decommission", False, "h2 not verified")
    assert [(r["host"], r["ok"]) for r in journal.verify_results("decommission.stop-agents")] == [
        ("h1", True), ("h2", None)]
    [g] = journal.gate_results()
    assert g["ok"] is False and g["phase"] == "decommission" and g["at_iso"] == "2026-11-22T10:00:00Z"


def test_baseline_round_trip(path: Path, clock: Clock) -> None:
    data = {"hosts": {"h1": {"web": {"p95": 0.12, "status": "up"}}}, "note": "before cutover ✓", "n": [1, 2]}
    with Journal(path, "alice", clock=clock) as j:
        assert j.latest_baseline() is None
        j.save_baseline({"first": True}, T0)
        bid = j.save_baseline(data, T0 + 9)
    with Journal(path, "alice", clock=clock) as j:
        assert j.latest_baseline() == (bid, T0 + 9, data)
        assert [b["data"] for b in j.baselines()] == [{"first": True}, data]
        assert [e["data"] for e in j.timeline() if e["kind"] == "baseline"] == [{"first": True}, data]


def test_rollbacks_with_durations(journal: Journal) -> None:
    rid = journal.rollback_started("phase", "cutover", T0 + 10)
    journal.rollback_started("step", "cutover.dns", T0 + 20)
    assert journal.rollback_ended(rid, T0 + 42.5, ok=True, detail="old agents back")
    assert not journal.rollback_ended(999, T0 + 50, ok=False)
    first, second = journal.rollbacks()
    assert (first["kind"], first["target"], first["ok"], first["duration"]) == ("phase", "cutover", True, 32.5)
    assert first["started"] == T0 + 10 and first["started_iso"] == "2026-11-22T10:00:10Z"
    assert first["ended"] == T0 + 42.5 and first["operator"] == "alice"
    assert second["ended"] is None and second["ok"] is None and second["duration"] is None


# -- reading ----------------------------------------------------------------------------------


def test_timeline_is_every_record_in_order_and_can_be_followed(journal: Journal, clock: Clock) -> None:
    journal.transition("phase", "prepare", "running")
    aid = intent(journal, ("h1",))
    journal.action_host_started(aid, "h1", T0 + 1)
    journal.status_changes([StatusChange(T0 + 2, "h1", "web", "up", "down", "502"),
                            StatusChange(T0 + 2, "h1", None, "ok", "unreachable")])
    journal.action_host_done(aid, "h1", "ok", 0, T0 + 1, T0 + 3, "done", False)
    journal.action_ended(aid, T0 + 3)
    journal.gate_result("prepare", True, "all up")
    journal.set_hold("prepare", T0 + 4)
    journal.save_baseline({"k": 1}, T0 + 5)
    rid = journal.rollback_started("step", "prepare.x", T0 + 6)
    journal.rollback_ended(rid, T0 + 7, ok=False, detail="host down")
    journal.verify_result("prepare.x", "h1", False, "still running")
    events = journal.timeline()
    assert [e["kind"] for e in events] == [
        "transition", "action", "action-host-started", "status", "status", "action-host-done", "action-ended",
        "gate", "hold", "baseline", "rollback-started", "rollback-ended", "verify"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert all(ISO.match(e["at_iso"]) and isinstance(e["at"], float) and e["operator"] == "alice" for e in events)
    assert [e["at"] for e in events] == [T0, T0, T0 + 1, T0 + 2, T0 + 2, T0 + 3, T0 + 3, T0, T0, T0 + 5, T0 + 6,
                                         T0 + 7, T0]
    assert events[1]["hosts"] == ["h1"] and events[1]["runs"] == [{"host": "h1",
                                                                   "command": "ssh h1 systemctl restart agent"}]
    assert events[4]["service"] is None and events[4]["new"] == "unreachable"
    assert events[11]["duration"] == 1.0 and events[11]["ok"] is False
    json.dumps(events)  # what `cockpit journal --json` prints
    assert journal.timeline(since_id=events[5]["id"], limit=2) == events[6:8]
    assert journal.timeline(since_id=journal.last_id()) == []
    journal.transition("phase", "prepare", "done")
    [new] = journal.timeline(since_id=events[-1]["id"])
    assert new["state"] == "done" and new["target_kind"] == "phase"


def test_an_observer_sees_the_driver_live(journal: Journal, path: Path) -> None:
    observer = Journal(path, "olga", readonly=True).open()
    try:
        seen = observer.last_id()
        journal.status_changes([StatusChange(T0, "h1", "web", "up", "down")])
        assert journal.status_changes([]) == 0
        assert [e["kind"] for e in observer.timeline(since_id=seen)] == ["status"]
        assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    finally:
        observer.close()


def test_actions_limit_is_the_newest_oldest_first_and_size_grows(journal: Journal) -> None:
    before = journal.size_bytes()
    ids = [intent(journal, (f"h{i}",)) for i in range(5)]
    assert [a["id"] for a in journal.actions(limit=2)] == ids[-2:]
    assert len(journal.actions()) == 5
    assert journal.size_bytes() > before > 0


def test_a_closed_journal_says_so(path: Path) -> None:
    j = Journal(path, "alice")
    with pytest.raises(JournalError, match="is not open"):
        j.timeline()
    assert not j.writable and not j.probe_writable()
