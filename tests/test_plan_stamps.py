"""Issue 17, item 5: every journaled decision names the plan it was made under and the fingerprint of what it
concerns (a step, a phase, the runbook's rollback): transitions, ticks, overrides, holds, gate results,
baselines and rollbacks. A journal written before schema v5 still opens, its old rows kept as they were."""

from __future__ import annotations

import sqlite3

from cockpitcfg import write_config
from test_plan_change import plan_toml

from cockpit.config import load_config
from cockpit.journal import SCHEMA_VERSION, Journal
from cockpit.journal.schema import MIGRATIONS
from cockpit.plans import ROLLBACK_PART, plan_version, version_of


def stamp(record: dict[str, object]) -> tuple[object, object]:
    return record.get("plan"), record.get("step_fp")


def test_every_decision_names_its_plan_and_what_it_concerns(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    v1 = plan_version(load_config(write_config(tmp_path, fleet, plan_toml())))
    gated = plan_version(load_config(write_config(tmp_path, fleet, plan_toml().replace(
        'gate = ["up(agent)"]', 'gate = ["up(agent)", "no_regressions"]'))))
    assert version_of(v1.text) == v1  # the journal's text gives back the very same fingerprints
    assert gated.step("p") != v1.step("p") and gated.step("p.mark") == v1.step("p.mark")
    assert v1.step(ROLLBACK_PART) is not None
    with Journal(tmp_path / "j.sqlite", "alice").open() as j:
        j.acquire_lease("alice", "jump", 1, 1000.0)
        j.accept_plan(v1, "first", at=1000.0)
        j.transition("phase", "p", "overridden", reason="gate flaps", at=1001.0)
        j.verify_result("p.mark", "h1", True, "ticked by alice: looked", at=1002.0)
        j.gate_result("p", False, "agent down on h2", at=1003.0)
        j.set_hold("p", 1004.0)
        j.save_baseline({"at": 1005.0, "services": {}}, 1005.0)
        quick = j.rollback_started("quick", "Back to v1", 1006.0)
        j.rollback_ended(quick, 1007.0, True)
        phase_rb = j.rollback_started("phase", "p", 1008.0)
        j.accept_plan(gated, "the gate also wants every host reachable", at=1009.0)
        j.rollback_ended(phase_rb, 1010.0, False, "h2 did not answer")
        j.set_hold("p", None)
        log = j.timeline()
        by_kind: dict[str, list[dict[str, object]]] = {}
        for r in log:
            by_kind.setdefault(str(r["kind"]), []).append(r)
        assert stamp(by_kind["transition"][0]) == (v1.fingerprint, v1.step("p"))  # the override
        assert stamp(by_kind["verify"][0]) == (v1.fingerprint, v1.step("p.mark"))  # the tick
        assert stamp(by_kind["gate"][0]) == (v1.fingerprint, v1.step("p"))
        assert [stamp(r) for r in by_kind["hold"]] == [(v1.fingerprint, v1.step("p")),
                                                       (gated.fingerprint, gated.step("p"))]
        assert by_kind["baseline"][0]["plan"] == v1.fingerprint and j.baselines()[0]["plan"] == v1.fingerprint
        assert [stamp(r) for r in by_kind["rollback-started"]] == [(v1.fingerprint, v1.step(ROLLBACK_PART)),
                                                                   (v1.fingerprint, v1.step("p"))]
        # a rollback that ends after a plan change says so: it ended under the new plan
        assert [stamp(r) for r in by_kind["rollback-ended"]] == [(v1.fingerprint, v1.step(ROLLBACK_PART)),
                                                                 (gated.fingerprint, gated.step("p"))]
        assert [(r["plan"], r["step_fp"]) for r in j.rollbacks()] == [(v1.fingerprint, v1.step(ROLLBACK_PART)),
                                                                      (v1.fingerprint, v1.step("p"))]
        assert j.gate_results()[0]["step_fp"] == v1.step("p")


def test_a_v4_journal_opens_migrated_and_keeps_its_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:4]:
        migration(conn)
    conn.execute("PRAGMA application_id = 1128483658")
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO holds (phase, since, operator) VALUES ('p', 900.0, 'carol')")
    conn.execute("INSERT INTO baselines (at, data, operator) VALUES (901.0, '{\"at\": 901.0}', 'carol')")
    conn.close()
    with Journal(path, "alice").open() as j:
        assert j.holds() == {"p": 900.0}
        assert [(b["operator"], b["plan"]) for b in j.baselines()] == [("carol", None)]  # not known: NULL
        assert "migrated_to_v5" in j.meta()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
