"""Issue 17, item 3, headless on the loopback fleet: a step changed after it finished on some hosts runs its
new definition on the remaining hosts only; the hosts already done are not re-run unless the operator says so
(--rerun-done), and the step's outcome counts them done, saying under which plan."""

from __future__ import annotations

from cockpitcfg import write_config
from test_plan_change import cockpit, journal_of, marks, plan_toml

from cockpit.config import load_config
from cockpit.journal import Journal
from cockpit.plans import plan_version
from cockpit.runbook.drift import done_under_other

FAILS_ON_H2 = 'echo v1 >> "$COCKPIT_SHIM_STATE/systemd/marker"; test "$COCKPIT_TEST_HOST" != h2'


def test_a_changed_step_runs_on_the_hosts_not_done_only(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, plan_toml(batch=3).replace(
        """'echo v1 >> "$COCKPIT_SHIM_STATE/systemd/marker"; echo marked'""", f"'{FAILS_ON_H2}'"))
    first = cockpit("step", "run", "p.mark", "-c", str(path))
    assert first.returncode == 1, first.stdout + first.stderr
    assert "p.mark: partial (not done on h2: command failed exit 1" in first.stdout and marks(fleet) == [["v1"], ["v1"], ["v1"]]
    path.write_text(path.read_text().replace(FAILS_ON_H2, 'echo v2 >> "$COCKPIT_SHIM_STATE/systemd/marker"'))
    asked = cockpit("step", "run", "p.mark", "-c", str(path), "--accept-plan-change", "h2 needs the v2 marker")
    assert asked.returncode == 2, asked.stdout + asked.stderr  # typed: the change is named first
    assert "changed since run" in asked.stderr and "done on h1 (plan " in asked.stderr
    assert "the next run fires on h2 only" in asked.stderr and marks(fleet) == [["v1"], ["v1"], ["v1"]]
    ok = cockpit("step", "run", "p.mark", "-c", str(path), "--rerun", "p.mark")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert marks(fleet) == [["v1"], ["v1", "v2"], ["v1"]]  # h1 and h3 were done: not re-run
    assert "p.mark: done" in ok.stdout and "✔ h1: done under plan " in ok.stdout and "not re-run" in ok.stdout
    with Journal(journal_of(path), "reader", readonly=True).open() as j:
        plans = [c["new"] for c in j.plan_changes()]
        runs = [(a["plan"], r["host"]) for a in j.actions() if a["step"] == "p.mark" for r in a["runs"]]
    assert runs == [(plans[0], "h1"), (plans[0], "h2"), (plans[0], "h3"), (plans[1], "h2")]
    # the operator may choose to re-run the done hosts with the new definition
    again = cockpit("step", "run", "p.mark", "-c", str(path), "--rerun", "p.mark", "--rerun-done")
    assert again.returncode == 0, again.stdout + again.stderr
    assert marks(fleet) == [["v1", "v2"], ["v1", "v2", "v2"], ["v1", "v2"]]


def test_a_host_whose_step_was_rolled_back_since_is_not_done(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A rollback of the step, of its phase or the quick one undoes the hosts' outcome: they run again."""
    v1 = plan_version(load_config(write_config(tmp_path, fleet, plan_toml())))
    v2 = plan_version(load_config(write_config(tmp_path, fleet, plan_toml(cmd="v2"))))
    hosts = ["h1", "h2", "h3"]
    for kind, target in (("step", "p.mark"), ("phase", "p"), ("quick", "Back to v1")):
        with Journal(tmp_path / f"{kind}.sqlite", "alice").open() as j:
            j.acquire_lease("alice", "jump", 1, 1000.0)
            j.use_plan(v1)
            j.verify_result("p.mark", "h1", True, "command ok", at=1001.0)
            j.verify_result("p.mark", "h2", False, "exit 1", at=1001.0)
            j.use_plan(v2)
            assert done_under_other(j, "p.mark", hosts).keys() == {"h1"}
            j.rollback_started("step", "p.other", 1002.0)  # another step's rollback: h1 stays done
            assert done_under_other(j, "p.mark", hosts).keys() == {"h1"}
            j.rollback_started(kind, target, 1003.0)
            assert done_under_other(j, "p.mark", hosts) == {}, kind
