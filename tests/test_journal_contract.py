"""The journal contract, run against both backends: a SQLite file and a PostgreSQL database.

One suite, parametrized (``make``): whatever the session, the runbook, the runner and the report rely on
holds for either journal. Lease times are the journal's own clock (the database's for PostgreSQL), so the
lease tests here use ``ttl=0`` for "stale" and compare times relative to ``journal.now()``.
Backend-specific behaviour lives in tests/test_journal.py (the file) and tests/test_pg_journal.py.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cockpit.journal import OUTPUT_LIMIT, Journal, JournalBackend, JournalError, LeaseLost, PgJournal
from cockpit.model import StatusChange

T0 = 1795341600.0  # 2026-11-22T10:00:00Z
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Make:
    """``make(operator, clock=None, opened=True)``: another cockpit's journal on the same store."""

    def __init__(self, kind: str, target: str | Path) -> None:
        self.kind, self.target = kind, target
        self.opened: list[Journal] = []

    def __call__(self, operator: str, clock: Callable[[], float] | None = None, opened: bool = True,
                 readonly: bool = False) -> Journal:
        kw = {"clock": clock} if clock is not None else {}
        if self.kind == "sqlite":
            j: Journal = Journal(Path(self.target), operator, readonly=readonly, **kw)
        else:
            j = PgJournal(str(self.target), operator, readonly=readonly, **kw)
        self.opened.append(j)
        return j.open() if opened else j

    def count(self, table: str) -> int:
        with self("counter", opened=True, readonly=True) as j, j.read() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Make]:
    target = (request.getfixturevalue("postgres") if request.param == "postgresql"
              else tmp_path / "run" / "journal.db")
    m = Make(request.param, target)
    yield m
    for j in m.opened:
        j.close()


@pytest.fixture
def journal(make: Make, clock: Clock) -> Journal:
    return make("alice", clock=clock)


def intent(j: Journal, hosts: tuple[str, ...] = ("h1", "h2"), **kw: object) -> int:
    return j.action_intent("restart agent", "action", "systemctl restart agent",
                           [(h, f"ssh {h} systemctl restart agent") for h in hosts], **kw)  # type: ignore[arg-type]


# -- the lease and the fence, on the journal's own clock ----------------------------------------


def test_lease_driver_observer_heartbeat_and_release(make: Make) -> None:
    driver, observer = make("alice"), make("bob")
    start = driver.now()
    mine = driver.acquire_lease("alice", "jump1", 100, start)
    assert mine.ours and (mine.operator, mine.host, mine.pid) == ("alice", "jump1", 100)
    theirs = observer.acquire_lease("bob", "jump2", 200, start + 1)
    assert not theirs.ours and theirs.operator == "alice" and theirs.pid == 100
    beat = driver.heartbeat(driver.now())
    assert beat.heartbeat >= mine.heartbeat and beat.ours
    again = driver.acquire_lease("alice", "jump1", 100, driver.now())
    assert again.ours and again.acquired == mine.acquired and again.generation == mine.generation
    lease = observer.lease()
    assert lease is not None and not lease.ours and lease.heartbeat == again.heartbeat
    assert driver.lease() is not None and driver.lease().ours  # type: ignore[union-attr]
    driver.release()
    assert observer.lease() is None
    assert observer.acquire_lease("bob", "jump2", 200, observer.now()).ours
    with pytest.raises(JournalError, match="does not hold"):
        driver.heartbeat(driver.now())


def test_take_over_only_a_stale_lease_and_the_old_driver_learns_it(make: Make) -> None:
    driver, other = make("alice"), make("bob")
    driver.acquire_lease("alice", "jump1", 100, driver.now())
    with pytest.raises(JournalError) as err:
        other.take_over("bob", "jump2", 200, other.now(), reason="alice went home", ttl=15)
    assert "alice on jump1 (pid 100)" in err.value.message and "stale" in err.value.message
    with pytest.raises(ValueError):
        other.take_over("bob", "jump2", 200, other.now(), reason=" ")
    time.sleep(0.01)
    taken = other.take_over("bob", "jump2", 200, other.now(), reason="alice's laptop died", ttl=0)
    assert taken.ours and taken.operator == "bob"
    [t] = other.transitions("lease")
    assert (t["kind"], t["state"], t["reason"], t["operator"]) == (
        "runbook", "taken-over", "alice's laptop died", "bob")
    assert "alice on jump1 (pid 100)" in t["detail"]
    assert other.states()[("runbook", "lease")] == "taken-over"
    with pytest.raises(JournalError, match="lost the driver lease.*bob on jump2"):
        driver.heartbeat(driver.now())
    assert driver.writable  # losing the lease is not a broken journal
    assert not driver.acquire_lease("alice", "jump1", 100, driver.now()).ours


def test_the_same_operator_restarting_on_the_same_host_gets_a_stale_lease_back(make: Make) -> None:
    crashed = make("alice")
    crashed.acquire_lease("alice", "jump1", 100, crashed.now())
    crashed.close()
    restarted = make("alice")
    assert not restarted.acquire_lease("alice", "jump1", 101, restarted.now()).ours  # live: maybe two terminals
    time.sleep(0.01)
    back = restarted.acquire_lease("alice", "jump1", 101, restarted.now(), ttl=0)
    assert back.ours and back.pid == 101
    assert [e["replaced"] for e in restarted.timeline() if e["kind"] == "lease-acquired"][-1].startswith(
        "alice on jump1 (pid 100)")


def test_fencing_refuses_every_decision_of_a_superseded_driver_and_flags_its_late_outcomes(make: Make) -> None:
    """Issue 13, item 1 (issue 28 for PostgreSQL): a driver that lost the lease decides nothing more; what its
    already-fired commands did is still written, flagged, and it is told once."""
    a, b = make("alice"), make("bob")
    first = a.acquire_lease("alice", "jump1", 100, a.now())
    aid = intent(a, ("h1", "h2"))  # fired before the freeze
    told: list[str] = []
    a.lease_lost.append(told.append)
    time.sleep(0.01)
    taken = b.take_over("bob", "jump2", 200, b.now(), reason="alice froze", ttl=0)
    assert taken.generation == first.generation + 1
    before = make.count("log")
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
    assert make.count("log") == before  # not one decision written
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
        a.heartbeat(a.now())
    assert a.writable and len(told) == 1  # a lost lease is not a broken journal; told once
    # the new driver decides freely; a re-acquire raises the generation again
    b.transition("step", "p.s", "running")
    b.release()
    assert a.acquire_lease("alice", "jump1", 100, a.now()).generation == 3
    a.transition("step", "p.s", "done")


# -- records and reads --------------------------------------------------------------------------

def test_reopen_keeps_records_and_does_not_migrate_again(make: Make, clock: Clock) -> None:
    with make("alice", clock=clock) as j:
        j.transition("phase", "prepare", "done")
    clock.now += 60
    with make("bob", clock=clock) as j:
        assert j.states() == {("phase", "prepare"): "done"}
        assert float(j.meta()["migrated_to_v1"]) == T0 and j.meta()["created_by"] == "alice"


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


def test_a_bad_record_is_a_bug_not_an_unwritable_journal(journal: Journal) -> None:
    with pytest.raises(ValueError):
        journal.transition("phasee", "prepare", "done")
    assert journal.writable and journal.transitions() == []





def test_the_journal_is_a_journal_backend(journal: Journal) -> None:
    """What a later PostgreSQL journal implements too (cockpit.journal.backend)."""
    import inspect

    assert isinstance(journal, JournalBackend)
    for name, member in inspect.getmembers(JournalBackend, inspect.isfunction):
        if not name.startswith("_"):
            ours = inspect.signature(getattr(type(journal), name))
            assert list(ours.parameters) == list(inspect.signature(member).parameters), name


def test_a_store_that_never_held_the_lease_may_not_decide_while_someone_holds_it(make: Make) -> None:
    with make("alice", opened=False) as driver, make("tool", opened=False) as tool:
        tool.transition("step", "p.s", "pending")  # nobody holds the lease: tools and tests may write
        driver.acquire_lease("alice", "jump1", 100, T0)
        with pytest.raises(LeaseLost, match="held by alice on jump1"):
            tool.transition("step", "p.s", "done")
        assert driver.states()[("step", "p.s")] == "pending"


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


def test_hold_survives_reopen(make: Make, clock: Clock) -> None:
    with make("alice", clock=clock) as j:
        j.set_hold("cutover", T0 + 3)
        j.set_hold("verify", T0 + 4)
        j.set_hold("verify", None)
    with make("alice", clock=clock) as j:
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


def test_baseline_round_trip(make: Make, clock: Clock) -> None:
    data = {"hosts": {"h1": {"web": {"p95": 0.12, "status": "up"}}}, "note": "before cutover ✓", "n": [1, 2]}
    with make("alice", clock=clock) as j:
        assert j.latest_baseline() is None
        j.save_baseline({"first": True}, T0)
        bid = j.save_baseline(data, T0 + 9)
    with make("alice", clock=clock) as j:
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


def test_actions_limit_is_the_newest_oldest_first_and_size_grows(journal: Journal) -> None:
    before = journal.size_bytes()
    ids = [intent(journal, (f"h{i}",)) for i in range(5)]
    assert [a["id"] for a in journal.actions(limit=2)] == ids[-2:]
    assert len(journal.actions()) == 5
    assert journal.size_bytes() > before > 0

def test_a_read_only_journal_writes_nothing(make: Make, journal: Journal) -> None:
    """What ``--read-only`` opens: every write refused with a message saying so, nothing written."""
    journal.transition("phase", "p", "running")
    before = make.count("log")
    reader = make("olga", readonly=True)
    assert not reader.writable and "read-only" in reader.last_error
    assert reader.states() == {("phase", "p"): "running"}
    with pytest.raises(JournalError):
        reader.transition("phase", "p", "done")
    with pytest.raises(JournalError):
        reader.acquire_lease("olga", "jump9", 9, reader.now())
    assert make.count("log") == before and journal.lease() is None
