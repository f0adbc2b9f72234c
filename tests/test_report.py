"""The cutover report, built from a real journal file written through the Journal API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.history import History
from cockpit.journal import Journal
from cockpit.model import CheckResult, FleetSnapshot, HostState, StatusChange
from cockpit.report import OUTPUT_TAIL_LINES, STATUS_RECENT_LIMIT, build_report
from cockpit.secrets import Redactor
from cockpit.spec import Config

T0 = 1795341600.0  # 2026-11-22T10:00:00Z
SECRET = "s3cr3t-T0ken-9f8e"
ENV_SECRET = "api-internal.corp.example"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

CONFIG = """
[cockpit]
title = "Fleet v2 cutover"

[hosts.web1]
transport = "local"
tags = ["web"]

[hosts.web2]
transport = "local"
tags = ["web"]

[hosts.db1]
transport = "local"
tags = ["db"]

[services.agent]
on = ["all"]
systemd = "fleet-agent.service"

[services.api]
on = ["tag:web"]
http = "https://${API_HOST}/health"

[runbook]
rollback_budget = "60s"

[[phases]]
id = "decommission"
title = "Decommission v1"
gate = ["down(agent@tag:web)"]
hold = "30s"

[[phases.steps]]
id = "stop-agents"
title = "Stop v1 agents"
on = ["tag:web"]
run = "systemctl stop fleet-agent"
verify = ["down(agent)"]
rollback = "systemctl start fleet-agent"

[[phases.steps]]
id = "backup"
title = "Back up the database"
on = ["db1"]
run = "pg_dump fleet > /srv/backup/fleet.sql"

[[phases]]
id = "canary"
title = "Canary 10%"
gate = ["up(api)"]

[[phases.steps]]
id = "deploy"
title = "Deploy v2"
on = ["web1"]
run = "deploy-v2 --canary"

[[phases]]
id = "full"
title = "Full rollout"

[[phases.steps]]
id = "switch"
title = "Switch DNS"
on = ["web2"]
run = "switch-dns"

[rollback]
title = "Quick rollback"
on = ["tag:web"]
run = "./scripts/quick-rollback.sh"
"""

FAILED_OUTPUT = (
    "stopping fleet-agent\n"
    "\x1b[31mERROR\x1b[0m: unit busy | pid 4242\n"
    "\x1b]0;pwned-title\x07token=" + SECRET + "\n"
    "```\nnot a fence end\n"
    "<script>alert(1)</script>\n"
    "exit 1\n"
)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "cockpit.toml"
    path.write_text(CONFIG)
    return load_config(path, env={"API_HOST": ENV_SECRET})


def run_action(j: Journal, title: str, kind: str, command: str, outcomes: dict[str, tuple[str, int | None, str]],
               start: float, phase: str | None = None, step: str | None = None, end: bool = True) -> int:
    """An action through the journal as the runner writes it: intent, hosts started and done, end."""
    aid = j.action_intent(title, kind, command, [(h, f"{command}  # on {h}") for h in outcomes], phase=phase,
                          step=step, at=start)
    for i, (host, (state, exit_status, output)) in enumerate(outcomes.items()):
        j.action_host_started(aid, host, start + 0.1)
        if state != "running":
            j.action_host_done(aid, host, state, exit_status, start + 0.1, start + 1.5 + i, output, False,
                               "" if state == "ok" else f"exit status {exit_status}")
    if end:
        j.action_ended(aid, start + 3)
    return aid


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A cutover as it happens: baseline, two phases, a failure, a skip, an override, rollbacks, a take-over."""
    clock = Clock()
    j = Journal(tmp_path / "cutover.journal.sqlite", "alice", clock=clock).open()
    j.acquire_lease("alice", "laptop-a", 100, T0)
    j.save_baseline({"at": T0 + 5, "hosts": {
        "web1": {"reach": "ok", "services": {
            "agent": {"status": "up", "detail": "active", "p95": None, "latency": None},
            "api": {"status": "up", "detail": "200", "p95": 0.008, "latency": 0.007,
                    "samples": [0.007, 0.008] * 10}}},
        "web2": {"reach": "ok", "services": {
            "agent": {"status": "up", "detail": "active", "p95": None, "latency": None},
            "api": {"status": "up", "detail": "200", "p95": 0.020, "latency": 0.019,
                    "samples": [0.019, 0.020] * 10}}},
    }}, T0 + 5)
    # phase 1: stop agents (fails on web2), skip the backup, gate fails, override
    j.transition("step", "decommission.stop-agents", "running", at=T0 + 20)
    run_action(j, "Stop v1 agents", "step", "systemctl stop fleet-agent",
               {"web1": ("ok", 0, "stopped\n"), "web2": ("failed", 1, FAILED_OUTPUT)},
               T0 + 20, "decommission", "decommission.stop-agents")
    j.status_changes([StatusChange(T0 + 25, "web1", "agent", "up", "down", "inactive (dead)"),
                      StatusChange(T0 + 26, "web2", None, "ok", "unreachable", "connection | refused")])
    j.transition("step", "decommission.stop-agents", "verifying", at=T0 + 24)
    j.verify_result("decommission.stop-agents", "web1", True, "agent down", at=T0 + 30)
    j.verify_result("decommission.stop-agents", "web2", False, "agent still \x1b[1mactive\x1b[0m <pid 4242>",
                    at=T0 + 84)
    j.transition("step", "decommission.stop-agents", "partial", detail="failed on web2", at=T0 + 85)
    j.transition("step", "decommission.backup", "skipped", reason="DBA took a snapshot at 09:00 | ticket OPS-42",
                 at=T0 + 90)
    j.gate_result("decommission", False, "agent up on web2", at=T0 + 95)
    j.transition("phase", "decommission", "overridden",
                 reason="web2 is rebuilt tonight; agent removed by hand, token " + SECRET, at=T0 + 120)
    # phase 2: canary deployed, gate holds, then a quick rollback and a phase rollback
    j.transition("step", "canary.deploy", "running", at=T0 + 150)
    run_action(j, "Deploy v2", "step", "deploy-v2 --canary", {"web1": ("ok", 0, "deployed v2.0.1\n")},
               T0 + 150, "canary", "canary.deploy")
    j.transition("step", "canary.deploy", "done", at=T0 + 160)
    j.gate_result("canary", True, "api up on web1, web2", at=T0 + 165)
    clock.now = T0 + 165
    j.set_hold("canary", T0 + 165)
    rid = j.rollback_started("quick", "Quick rollback", T0 + 300)
    run_action(j, "Quick rollback", "rollback", "./scripts/quick-rollback.sh",
               {"web1": ("ok", 0, "reverted\n"), "web2": ("ok", 0, "reverted\n")}, T0 + 301)
    j.rollback_ended(rid, T0 + 342.5, True)
    rid = j.rollback_started("phase", "canary", T0 + 400)
    j.rollback_ended(rid, T0 + 490, False, "deploy-v2 --undo hung")
    j.transition("phase", "canary", "rolled-back", detail="90.0s", at=T0 + 490)
    for i in range(STATUS_RECENT_LIMIT + 10):  # a flapping service: bounded in the report
        j.status_changes([StatusChange(T0 + 500 + i, "web1", "api", "up" if i % 2 else "down",
                                       "down" if i % 2 else "up", f"flap {i}")])
    # alice's cockpit died; bob takes the stale lease over and finds an action cut short
    j.transition("step", "full.switch", "running", at=T0 + 600)
    cut = run_action(j, "Switch DNS", "step", "switch-dns", {"web2": ("running", None, "")}, T0 + 600,
                     "full", "full.switch", end=False)
    j.close()
    bob = Journal(tmp_path / "cutover.journal.sqlite", "bob", clock=Clock(T0 + 900)).open()
    bob.take_over("bob", "laptop-b", 200, T0 + 900, "alice's laptop went to sleep")
    marked = bob.mark_interrupted(T0 + 901)
    assert [a["id"] for a in marked] == [cut]
    yield bob
    bob.close()


def final_state() -> tuple[FleetSnapshot, History]:
    now = time.time()  # diff_rows looks at the history's window before the real now
    history = History()
    for k in range(25):  # the regression rule's 20 samples and more
        at = now - 30 + k
        history.add(HostState("web1", "ok", results=(CheckResult("api", "web1", "http", "up", "200", 0.030, at),),
                              round_ended=at))
    snap = FleetSnapshot("Fleet v2 cutover", T0 + 950, (
        HostState("web1", "ok", results=(CheckResult("agent", "web1", "systemd", "down", "inactive", None, T0 + 950),
                                         CheckResult("api", "web1", "http", "up", "200", 0.030, T0 + 950))),
        HostState("web2", "unreachable", error="connection refused"),
    ))
    return snap, history


def section(report: str, title: str) -> str:
    start = report.index(f"\n## {title}\n")
    end = report.find("\n## ", start + 1)
    return report[start: end if end != -1 else len(report)]


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


# -- the whole report ---------------------------------------------------------------------------


def test_header_and_summary(config: Config, journal: Journal) -> None:
    report = build_report(config, journal, now=T0 + 1000)
    assert report.startswith("# Fleet v2 cutover: cutover report\n")
    assert "- **Generated:** 2026-11-22T10:16:40Z" in report
    assert f"- **Journal:** {journal.path}" in report
    assert "- **Operators:** alice, bob" in report
    assert "- **Started:** 2026-11-22T10:00:00Z" in report and "- **Ended:** 2026-11-22T10:15:01Z" in report
    assert "- **Duration:** 15m1s" in report
    summary = section(report, "Summary")
    assert ("- **Outcome:** ✖ ROLLBACK FAILED at 10:06 UTC by alice; phase canary rollback 1m30s of 1m budget "
            "(OVER budget): deploy-v2 --undo hung; phases rolled back: canary") in summary
    assert "3 in the runbook; 0 done, 1 overridden, 1 rolled back, 1 in progress, 0 not started" in summary
    assert "4 in the runbook; 1 done, 0 failed, 1 partial, 1 skipped, 0 rolled back, 0 not run, 1 running" in summary
    assert "4 run; 2 with a failure (2 host runs not ok): #1 Stop v1 agents, #4 Switch DNS" in summary
    assert "#4 Switch DNS (outcome unknown on web2)" in summary
    assert "- **Rollbacks:** 2: #1 quick Quick rollback: ✔ within budget" in summary
    assert "1 override, 1 skip, 1 lease take-over" in summary
    for line in report.splitlines():  # every time is UTC ISO 8601 with Z
        for stamp in re.findall(r"\d{4}-\d\d-\d\dT[\d:.+]+Z?", line):
            assert ISO.fullmatch(stamp), line


def test_every_action_with_title_hosts_and_result(config: Config, journal: Journal) -> None:
    report = build_report(config, journal, now=T0 + 1000)
    actions = section(report, "Actions")
    timeline = section(report, "Timeline")
    for a in journal.actions():
        assert f"### Action #{a['id']}: {a['title']}" in actions
        assert f"Action #{a['id']} **{a['title']}**" in timeline
        for host in a["hosts"]:
            assert re.search(rf"^\| {host} \| ", actions.split(f"### Action #{a['id']}:")[1], re.M)
    assert "| web2 | **failed** | 1 | 2026-11-22T10:00:20Z | 2.4s |" in actions
    assert "| web1 | ok | 0 | 2026-11-22T10:00:20Z | 1.4s |" in actions
    assert "| 2026-11-22T10:00:20Z | 2026-11-22T10:00:23Z | alice | step | phase decommission step " \
           "decommission.stop-agents | systemctl stop fleet-agent |" in actions
    assert "ok (exit 0): web1; failed (exit 1): web2" in timeline
    assert "(interrupted) | alice | step | phase full step full.switch" in actions
    assert "| web2 | **interrupted** | – |" in actions
    # the tail of a failed host's output, fenced; the ok host's output is not shown
    assert "Output of web2 (all 7 lines):" in actions
    assert "stopped\n" not in actions and "deployed v2.0.1" not in actions
    assert "Output of web1" not in actions
    assert "web2: no output recorded." in actions.split("### Action #4:")[1]


def test_phases_with_start_end_steps_and_verification(config: Config, journal: Journal) -> None:
    report = build_report(config, journal, now=T0 + 1000)
    phases = section(report, "Phases")
    for phase in config.runbook.phases:
        assert f"{phase.title} ({phase.id})" in phases
        for step in phase.steps:
            assert f"{step.title} ({phase.id}.{step.id})" in phases
    decommission = phases.split("### 1. ")[1].split("### 2. ")[0]
    assert "| State | **overridden**; reason: web2 is rebuilt tonight" in decommission
    assert "| Started | 2026-11-22T10:00:20Z |" in decommission
    assert "| Ended | 2026-11-22T10:02:00Z (overridden) |" in decommission
    assert "| Duration | 1m40s |" in decommission
    assert "| Gate, latest | ✖ 2026-11-22T10:01:35Z agent up on web2 |" in decommission
    assert "| Gate failures | 1: ✖ 2026-11-22T10:01:35Z agent up on web2 |" in decommission
    assert "| Hold | 30s required |" in decommission
    stop = next(r for r in table_rows(decommission) if r.startswith("| Stop v1 agents"))
    assert "**partial** (failed on web2)" in stop and "| web1, web2 |" in stop
    assert "web1 ✔ agent down<br>web2 ✖ agent still active &lt;pid 4242&gt;" in stop
    assert ("#1 step 2026-11-22T10:00:20Z: web1 ok (exit 0): systemctl stop fleet-agent  # on web1; "
            "web2 failed (exit 1): systemctl stop fleet-agent  # on web2") in stop  # each host's exact command
    backup = next(r for r in table_rows(decommission) if r.startswith("| Back up the database"))
    assert "**skipped**; reason: DBA took a snapshot at 09:00 \\| ticket OPS-42" in backup
    canary = phases.split("### 2. ")[1].split("### 3. ")[0]
    assert "| State | **rolled-back** (90.0s) |" in canary
    assert "| Started | 2026-11-22T10:02:30Z |" in canary and "| Ended | 2026-11-22T10:08:10Z (rolled-back) |" in canary
    assert "| Gate, latest | ✔ 2026-11-22T10:02:45Z api up on web1, web2 |" in canary
    assert "| Gate failures | none |" in canary
    assert "| Hold | none required |" in canary  # a hold row left in the journal: the phase is over
    full = phases.split("### 3. ")[1]
    assert "| State | **in progress** |" in full and "| Ended | – |" in full
    switch = next(r for r in table_rows(full) if r.startswith("| Switch DNS"))
    assert "**running**; interrupted: the cockpit stopped, outcome unknown" in switch
    assert "#4 step 2026-11-22T10:10:00Z: web2 interrupted" in switch
    assert "| Gate, latest | never evaluated |" in full


def test_rollbacks_against_the_budget(config: Config, journal: Journal) -> None:
    rollbacks = section(build_report(config, journal, now=T0 + 1000), "Rollbacks")
    quick, phase = table_rows(rollbacks)[2:]
    assert "| quick | Quick rollback | alice | 2026-11-22T10:05:00Z | 2026-11-22T10:05:42Z | 42.5s | ok |" in quick
    assert "✔ within budget (42.5s ≤ 1m)" in quick
    assert "#3 ok (exit 0): web1, web2" in quick
    assert "| phase | canary |" in phase and "| 1m30s | **failed** (deploy-v2 --undo hung) |" in phase
    assert "✖ over budget (1m30s > 1m, by 30s)" in phase


def test_overrides_skips_and_take_over_with_reasons(config: Config, journal: Journal) -> None:
    reasons = section(build_report(config, journal, now=T0 + 1000), "Overrides and skips")
    rows = table_rows(reasons)[2:]
    assert rows[0].startswith("| 2026-11-22T10:01:30Z | alice | step skipped | decommission.backup | "
                              "DBA took a snapshot at 09:00 \\| ticket OPS-42 |")
    assert rows[1].startswith("| 2026-11-22T10:02:00Z | alice | phase overridden | decommission | "
                              "web2 is rebuilt tonight; agent removed by hand, token ")
    assert rows[2].startswith("| 2026-11-22T10:15:00Z | bob | driver lease taken over | lease | "
                              "alice's laptop went to sleep | from alice on laptop-a (pid 100)")
    timeline = section(build_report(config, journal, now=T0 + 1000), "Timeline")
    assert "**Driver lease taken over**; reason: alice's laptop went to sleep" in timeline
    assert "Baseline #1 captured: 2 hosts, 4 services" in timeline
    assert "Rollback #1 (quick Quick rollback) ended **ok** after 42.5s; ✔ within budget" in timeline
    assert "Action #4 Switch DNS **interrupted**: outcome unknown on web2" in timeline


def test_timeline_is_chronological_and_status_changes_bounded(config: Config, journal: Journal) -> None:
    # written last, but it happened early: the timeline orders by when things happened
    journal.transition("runbook", "change-ticket", "approved", reason="CAB approved CHG-7", at=T0 + 10)
    timeline = section(build_report(config, journal, now=T0 + 1000), "Timeline")
    main = timeline.split("### Status changes")[0]
    rows = table_rows(main)[2:]
    stamps = [row.split(" | ")[0].lstrip("| ") for row in rows]
    assert stamps == sorted(stamps) and len(stamps) > 10
    assert rows[2] == ("| 2026-11-22T10:00:10Z | bob | Runbook change-ticket → **approved**; "
                       "reason: CAB approved CHG-7 |")
    assert "Baseline #1" in rows[1] and "Step decommission.stop-agents → **running**" in rows[3]
    assert not any("flap" in r or "agent down" in r for r in rows)  # status and verify records are elsewhere
    changes = timeline.split("### Status changes")[1]
    assert "62 changes on 3 host/service pairs" in changes
    assert "| web1 | api | 60 | 2026-11-22T10:09:19Z | up → down |" in changes
    assert "| web2 | (host reachability) | 1 |" in changes
    assert f"The last {STATUS_RECENT_LIMIT} of 62 status changes:" in changes
    assert "flap 59" in changes and "flap 9 " not in changes and "flap 10 " in changes
    assert "inactive (dead)" not in changes.split("status changes:")[1]  # older than the last 50
    assert "connection \\| refused" not in changes  # not listed: only the last 50 are


def test_baseline_vs_final(config: Config, journal: Journal) -> None:
    snap, history = final_state()
    base = section(build_report(config, journal, final=snap, history=history, now=T0 + 1000), "Baseline vs final")
    assert "Baseline #1 captured at 2026-11-22T10:00:05Z; final state at 2026-11-22T10:15:50Z." in base
    rows = table_rows(base)
    assert rows[0] == "| Host | Service | Baseline status | Final status | Baseline p95 | Final p95 | Change |"
    assert "| web1 | agent | up | down | – | – | ✖ was up |" in rows
    assert "| web1 | api | up | up | 8.0 ms | 30.0 ms | ✖ slower: median ×4.0 |" in rows
    assert "| web2 | agent | up | unreachable | – | – | ✖ was up |" in rows
    assert "| web2 | api | up | unreachable | 20.0 ms | – | ✖ was up |" in rows


def test_baseline_without_final_and_without_baseline(config: Config, journal: Journal, tmp_path: Path) -> None:
    base = section(build_report(config, journal, now=T0 + 1000), "Baseline vs final")
    assert "no final snapshot was given" in base and "| web1 | api | up | 8.0 ms |" in base
    with Journal(tmp_path / "empty.sqlite", "carol", clock=Clock()) as empty:
        snap, history = final_state()
        report = build_report(config, empty, final=snap, history=history, now=T0)
    assert "No baseline was captured" in report
    assert "Nothing was recorded" in report and "No actions were run." in report
    assert "No rollbacks were run." in report and "- **Operators:** –" in report
    assert "not finished" in section(report, "Summary")
    for phase in config.runbook.phases:
        assert f"{phase.title} ({phase.id})" in report


# -- untrusted text -----------------------------------------------------------------------------


def test_secrets_are_masked_everywhere(config: Config, journal: Journal) -> None:
    journal.action_intent(f"probe with {ENV_SECRET}", "adhoc", f"curl https://{ENV_SECRET}/health",
                          [("web1", f"curl -H 'Authorization: Bearer {SECRET}' https://{ENV_SECRET}/health")],
                          at=T0 + 950)
    report = build_report(config, journal, redactor=Redactor([SECRET]), now=T0 + 1000)
    assert SECRET not in report and ENV_SECRET not in report  # config secrets are masked without being passed
    assert SECRET[:8] not in report
    assert "token ***" in report  # the override reason
    assert "token=***" in report  # the failed host's output
    assert "curl https://***/health" in report
    assert "Bearer ***" in report  # a host's command as run


def test_control_sequences_pipes_and_backticks_are_neutralised(config: Config, journal: Journal) -> None:
    aid = journal.action_intent("restart | \x1b[2Jevil <b>x</b> [link](http://x)", "adhoc", "true\r\n| x",
                                [("web1", "true")], at=T0 + 950)
    journal.action_host_done(aid, "web1", "ok", 0, T0 + 950, T0 + 951, "", False)
    journal.action_ended(aid, T0 + 951)
    report = build_report(config, journal, redactor=Redactor([SECRET]), now=T0 + 1000)
    assert "\x1b" not in report and "\x07" not in report and "pwned-title" not in report
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", report)
    assert "09:00 \\| ticket OPS-42" in report  # a reason's pipe is escaped
    assert "Action #5 **restart \\| evil &lt;b&gt;x&lt;/b&gt; \\[link\\](http://x)**" in report
    # every table row keeps its column count: no cell text adds a '|'
    for block in re.split(r"\n\n", report):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            widths = {len(re.findall(r"(?<!\\)\|", r)) for r in rows}
            assert len(widths) == 1, rows
    prose = re.sub(r"^(`{3,})text\n.*?^\1$", "", report, flags=re.M | re.S)
    assert "<script>" in report and "<script>" not in prose  # raw HTML only inside fenced output
    assert "<" not in prose.replace("<br>", "")
    actions = section(report, "Actions")
    start = actions.index("Output of web2 (all 7 lines):")
    fence = actions[start:].split("\n", 2)[2]
    opening = fence.split("\n", 1)[0]
    assert opening == "````text"  # longer than the ``` in the output, which so cannot close it
    body = fence.split("\n", 1)[1].split("\n````\n", 1)[0]
    assert body.splitlines() == ["stopping fleet-agent", "ERROR: unit busy | pid 4242", "token=***", "```",
                                 "not a fence end", "<script>alert(1)</script>", "exit 1"]


def test_long_output_is_tailed(config: Config, tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite", "alice", clock=Clock()) as j:
        output = "".join(f"line {i} `x`\n" for i in range(500))
        run_action(j, "Migrate", "action", "migrate", {"db1": ("timeout", None, output)}, T0)
        report = build_report(config, j, now=T0 + 10)
    assert f"Output of db1 (the last {OUTPUT_TAIL_LINES} of 500 lines):" in report
    assert "line 499 `x`" in report and f"line {499 - OUTPUT_TAIL_LINES} `x`" not in report
    assert "| db1 | **timeout** | – |" in report


def test_deterministic(config: Config, journal: Journal) -> None:
    snap, history = final_state()
    one = build_report(config, journal, final=snap, history=history, redactor=Redactor([SECRET]), now=T0 + 1000)
    two = build_report(config, journal, final=snap, history=history, redactor=Redactor([SECRET]), now=T0 + 1000)
    assert one == two and one.endswith("\n") and not one.endswith("\n\n")


def test_reads_a_read_only_journal(config: Config, journal: Journal) -> None:
    observer = Journal(journal.path, "eve", readonly=True).open()
    try:
        report = build_report(config, observer, now=T0 + 1000)
    finally:
        observer.close()
    assert report == build_report(config, journal, now=T0 + 1000)


def test_longest_outage_per_critical_service(config: Config, journal: Journal) -> None:
    """agent went down on web1 at +25s and never came back (ongoing); api flapped on web1 from +500s."""
    text = section(build_report(config, journal, now=T0 + 1000), "Longest outage per critical service")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| Service")}
    assert rows["agent"][1:4] == ["web1", "2026-11-22T10:00:25Z", "ongoing at the last record"]
    flaps = STATUS_RECENT_LIMIT + 10
    downs = sum(1 for i in range(flaps) if i % 2)  # each odd change goes down, the next one comes back up
    assert rows["api"][1] == "web1" and int(rows["api"][4]) == downs
    last_down = (flaps - 1) % 2 == 1  # it ended down: the longest is the ongoing one, else each lasted 1s
    assert rows["api"][3] == "ongoing at the last record" if last_down else rows["api"][0] == "1s"
    assert "`unknown` (host unreachable) are not outages here" in text
