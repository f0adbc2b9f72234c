"""The durable journal on real SQLite files: schema, durability, resume, errors, lease, reading."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_journal_contract import ISO, T0, Clock

from cockpit.journal import schema as journal_schema
from cockpit.journal import store as journal_store
from cockpit.errors import CockpitError, LeaseLost
from cockpit.journal import OUTPUT_LIMIT, SCHEMA_VERSION, Journal, JournalBackend, JournalError
from cockpit.model import StatusChange

ROOT = Path(__file__).resolve().parents[1]


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




# -- lease ------------------------------------------------------------------------------------














# -- runbook state, holds, baselines, rollbacks ------------------------------------------------












# -- reading ----------------------------------------------------------------------------------




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




def test_a_closed_journal_says_so(path: Path) -> None:
    j = Journal(path, "alice")
    with pytest.raises(JournalError, match="is not open"):
        j.timeline()
    assert not j.writable and not j.probe_writable()
