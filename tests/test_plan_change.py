"""Issue 17: the plan changes mid-cutover, visibly. Fingerprints on every decision, each plan version kept
once, the headless guard (`step run` refuses a plan the journal never accepted, naming the steps) and
`--accept-plan-change`, changed-since-run, and the report's per-host commands and plan changes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cockpitcfg import write_config

from cockpit.config import load_config
from cockpit.errors import LeaseLost
from cockpit.journal import Journal
from cockpit.plans import diff_plans, plan_version
from cockpit.session import Session

ROOT = Path(__file__).resolve().parents[1]

PLAN = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[[phases]]
id = "p"
title = "One phase"
gate = ["up(agent)"]

  [[phases.steps]]
  id = "mark"
  title = "Mark every host"
  on = ["all"]
  run = 'echo @CMD@ >> "$COCKPIT_SHIM_STATE/systemd/marker"; echo marked'
  batch = @BATCH@

  [[phases.steps]]
  id = "other"
  title = "Another step"
  on = ["h1"]
  run = "echo other"
"""


def plan_toml(cmd: str = "v1", batch: int = 3, extra: str = "") -> str:
    return PLAN.replace("@CMD@", cmd).replace("@BATCH@", str(batch)) + extra


def cockpit(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COCKPIT_OPERATOR": "alice"}
    env.pop("COCKPIT_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "cockpit", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)


def marks(fleet) -> list[list[str]]:  # type: ignore[no-untyped-def]
    out = []
    for h in fleet.hosts:
        f = h.state_dir / "systemd" / "marker"
        out.append(f.read_text().split() if f.exists() else [])
    return out


def journal_of(path: Path) -> Path:
    config = load_config(path)
    assert config.journal.path is not None
    return config.journal.path


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprints_name_the_step_that_changed_and_hide_secrets(fleet, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MARK_TOKEN", "s3cr3t-token-value")
    env = '\n  env = { TOKEN = "${MARK_TOKEN}" }\n'
    base = load_config(write_config(tmp_path, fleet, plan_toml().replace('  batch = 3\n', '  batch = 3' + env)))
    a, again = plan_version(base), plan_version(base)
    assert a == again and len(a.fingerprint) == 12 and "s3cr3t" not in a.text
    monkeypatch.setenv("MARK_TOKEN", "another-secret-value")
    rotated = plan_version(load_config(write_config(tmp_path, fleet, plan_toml().replace('  batch = 3\n',
                                                                                           '  batch = 3' + env))))
    assert rotated.fingerprint == a.fingerprint  # a secret is masked, not hashed
    b = plan_version(load_config(write_config(tmp_path, fleet, plan_toml(cmd="v2", batch=1).replace(
        '  batch = 1\n', '  batch = 1' + env))))
    assert b.fingerprint != a.fingerprint
    assert b.step("p.mark") != a.step("p.mark") and b.step("p.other") == a.step("p.other")
    changes = diff_plans(a.text, b.text)
    assert [(c.what, c.target, c.fields) for c in changes] == [("changed", "p.mark", ("batch", "command"))]
    assert any("v1" in line and "v2" in line for line in changes[0].lines)
    # a host moved out of a step's selector is a change of that step's hosts
    two = plan_version(load_config(write_config(tmp_path, fleet, plan_toml(), hosts=["h1", "h2"])))
    moved = diff_plans(a.text.replace("s3cr3t", ""), two.text)
    assert ("changed", "p.mark") in [(c.what, c.target) for c in moved]
    assert any("h1, h2, h3 -> h1, h2" in line for c in moved for line in c.lines)


def test_every_decision_carries_the_plan_and_each_version_is_kept_once(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, plan_toml())
    v1 = plan_version(load_config(path))
    v2 = plan_version(load_config(write_config(tmp_path, fleet, plan_toml(cmd="v2"))))
    with Journal(tmp_path / "j.sqlite", "alice").open() as j:
        j.acquire_lease("alice", "jump", 1, 1000.0)
        j.accept_plan(v1, "first", at=1000.0)
        aid = j.action_intent("Mark", "step", "echo v1", [("h1", "echo v1")], phase="p", step="p.mark", at=1001.0)
        j.transition("step", "p.mark", "running", at=1001.0)
        j.verify_result("p.mark", "h1", True, at=1002.0)
        j.gate_result("p", True, at=1003.0)
        j.rollback_started("step", "p.mark", 1004.0)
        j.accept_plan(v2, "fixed the command", at=1005.0)
        j.transition("step", "p.mark", "done", at=1006.0)
        rows = {r["kind"]: r for r in j.timeline()}
        assert rows["action"]["plan"] == v1.fingerprint and rows["action"]["step_fp"] == v1.step("p.mark")
        assert rows["verify"]["step_fp"] == v1.step("p.mark") and rows["gate"]["plan"] == v1.fingerprint
        assert rows["rollback-started"]["step_fp"] == v1.step("p.mark")
        steps = [t for t in j.transitions("p.mark")]
        assert [(t["plan"], t["step_fp"]) for t in steps] == [(v1.fingerprint, v1.step("p.mark")),
                                                              (v2.fingerprint, v2.step("p.mark"))]
        assert j.actions()[0]["id"] == aid and j.actions()[0]["plan"] == v1.fingerprint
        assert [p["fingerprint"] for p in j.plans()] == [v1.fingerprint, v2.fingerprint]  # once each
        assert j.plan_text(v1.fingerprint) == v1.text
        last = j.last_accepted_plan()
        assert last is not None and last["new"] == v2.fingerprint and last["old"] == v1.fingerprint
        assert last["reason"] == "fixed the command" and last["operator"] == "alice"
        assert last["diff"][0]["target"] == "p.mark" and "command" in last["diff"][0]["fields"]
        # accepting a plan is a decision: a cockpit that lost the lease cannot
        with Journal(tmp_path / "j.sqlite", "bob").open() as other:
            other.take_over("bob", "jump2", 2, 2000.0, "alice's laptop died", ttl=0.0)
        with pytest.raises(LeaseLost):
            j.accept_plan(v1, "going back")
        assert j.last_accepted_plan()["new"] == v2.fingerprint  # type: ignore[index]


# -- the headless guard ---------------------------------------------------------------------------


def test_step_run_refuses_a_changed_plan_until_accepted(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, plan_toml(batch=1))
    first = cockpit("step", "run", "p.other", "-c", str(path))
    assert first.returncode == 0, first.stdout + first.stderr
    path.write_text(path.read_text().replace("echo v1", "echo v2"))
    refused = cockpit("step", "run", "p.mark", "-c", str(path))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert "changed p.mark (command)" in refused.stderr and "p.other" not in refused.stderr
    assert "accepted by alice" in refused.stderr and "--accept-plan-change" in refused.stderr
    assert marks(fleet) == [[], [], []]  # nothing fired
    ok = cockpit("step", "run", "p.mark", "-c", str(path), "--accept-plan-change", "v1 wrote the wrong marker")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "plan change accepted" in ok.stdout and marks(fleet) == [["v2"], ["v2"], ["v2"]]
    with Journal(journal_of(path), "reader", readonly=True).open() as j:
        changes = j.plan_changes()
        assert [c["reason"] for c in changes] == ["the first plan this journal ran", "v1 wrote the wrong marker"]
        assert changes[1]["operator"] == "alice" and changes[1]["diff"][0]["target"] == "p.mark"
        mark = [a for a in j.actions() if a["step"] == "p.mark"]
        assert {a["plan"] for a in mark} == {changes[1]["new"]}
        assert next(r["command"] for a in mark for r in a["runs"]).startswith("echo v2")
    again = cockpit("step", "run", "p.other", "-c", str(path), "--rerun", "p.other")
    assert again.returncode == 0, again.stdout + again.stderr  # the accepted plan needs no flag
    # a step removed after it ran stays visible in the plan, with what it ran
    text = path.read_text()
    path.write_text(text[:text.index("  [[phases.steps]]\n  id = \"other\"")])
    plan = cockpit("plan", "-c", str(path))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "⚠ removed after running: p.other (last run " in plan.stdout
    with Journal(journal_of(path), "reader", readonly=True).open() as j:
        under = [a["plan"] for a in j.actions() if a["step"] == "p.other"][-1]
    assert f"by alice under plan {under}, done: echo other)" in plan.stdout  # what it ran, and under which plan
    as_json = cockpit("plan", "-c", str(path), "--json")
    removed = json.loads(as_json.stdout)[0]["removed_after_running"]
    assert [(r["ref"], r["state"], r["plan"], r["command"]) for r in removed] == [("p.other", "done", under,
                                                                                   "echo other")]


def test_a_done_step_whose_definition_changed_says_so_before_running_again(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, plan_toml())
    assert cockpit("step", "run", "p.mark", "-c", str(path)).returncode == 0
    path.write_text(path.read_text().replace("echo v1", "echo v2"))
    plan = cockpit("plan", "-c", str(path))
    assert "⚠ changed since run (its last run started at " in plan.stdout and "echo v1" in plan.stdout
    refused = cockpit("step", "run", "p.mark", "-c", str(path), "--accept-plan-change", "new marker")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "changed since run" in refused.stderr and "command: " in refused.stderr
    assert "--rerun p.mark" in refused.stderr and marks(fleet) == [["v1"], ["v1"], ["v1"]]
    done = cockpit("step", "run", "p.mark", "-c", str(path), "--rerun", "p.mark")
    assert done.returncode == 2, done.stdout + done.stderr  # accepted by the refused run: it was journaled
    assert "done on all its hosts (h1, h2, h3) under an earlier definition" in done.stderr
    assert "--rerun-done" in done.stderr and marks(fleet) == [["v1"], ["v1"], ["v1"]]
    ok = cockpit("step", "run", "p.mark", "-c", str(path), "--rerun", "p.mark", "--rerun-done")
    assert ok.returncode == 0, ok.stdout + ok.stderr  # the operator chose to re-run the done hosts
    assert marks(fleet) == [["v1", "v2"], ["v1", "v2"], ["v1", "v2"]]


def test_an_observer_sees_that_the_driver_runs_a_newer_plan(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two cockpits on one journal: the observer's banner says the driver runs a newer plan, and what differs."""
    path = write_config(tmp_path, fleet, plan_toml())
    path.write_text(path.read_text() + '\n[journal]\nlease_ttl = "3s"\n')
    old = load_config(path)
    new_path = tmp_path / "new"
    new_path.mkdir()
    newer = write_config(new_path, fleet, plan_toml(cmd="v2"))
    newer.write_text(newer.read_text() + f'\n[journal]\npath = "{journal_of(path)}"\nlease_ttl = "3s"\n')

    async def run() -> None:
        driver = Session(load_config(newer), "alice")
        observer = Session(old, "bob")
        try:
            assert not driver.observer and observer.observer
            await observer.start(poll=False)
            deadline = asyncio.get_running_loop().time() + 10
            while not observer.runbook.view().plan_notice and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.1)
            notice = "\n".join(observer.runbook.view().plan_notice)
            assert f"the driver runs plan {driver.plan.fingerprint}" in notice and "accepted by alice" in notice
            assert f"not this cockpit's file (plan {observer.plan.fingerprint})" in notice
            assert "changed p.mark (command)" in notice and "echo v2" in notice
        finally:
            await observer.close()
            await driver.close()

    asyncio.run(run())


def test_report_shows_each_hosts_command_and_the_plan_changes(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, fleet, plan_toml(batch=1))
    assert cockpit("step", "run", "p.other", "-c", str(path)).returncode == 0
    path.write_text(path.read_text().replace("echo v1", "echo v2"))
    ran = cockpit("step", "run", "p.mark", "-c", str(path), "--accept-plan-change", "v1 was wrong")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = tmp_path / "report.md"
    rep = cockpit("report", "-c", str(path), "-o", str(out))
    assert rep.returncode == 0, rep.stdout + rep.stderr
    text = out.read_text()
    with Journal(journal_of(path), "reader", readonly=True).open() as j:
        changes = j.plan_changes()
    assert "## Plan changes" in text
    assert "v1 was wrong" in text and changes[1]["new"] in text and changes[0]["new"] in text
    assert "changed p.mark (command)" in text
    timeline = text.split("## Timeline")[1].split("\n## ")[0]  # the acceptance is in the timeline too
    assert f"Plan **{changes[1]['new']}** accepted; reason: v1 was wrong (changed: p.mark)" in timeline
    for h in ("h1", "h2", "h3"):  # each host's exact command, Markdown-escaped, in the step's row
        assert f"{h} ok (exit 0): echo v2 &gt;&gt;" in text
    assert f"under plan {changes[1]['new']}" in text and f"under plan {changes[0]['new']}" in text
