"""A two-phase runbook over the loopback fleet: steps flip shim state the way real units would change."""

from __future__ import annotations

# A step "stops" or "starts" a unit by replacing the shim's state file (atomic mv), as systemctl would.
SET = (r'''set_unit() { printf '%s\n' "$2" > "$COCKPIT_SHIM_STATE/systemd/$1.tmp" && '''
       r'''mv -f "$COCKPIT_SHIM_STATE/systemd/$1.tmp" "$COCKPIT_SHIM_STATE/systemd/$1"; }''')

RUNBOOK = r"""
[services.agent-v1]
on = ["all"]
systemd = "fleet-agent-v1"

[services.agent]
on = ["all"]
systemd = "fleet-agent"

[services.web]
on = ["h1"]
http = "@WEB@"

[runbook]
rollback_budget = "1m"
min_samples = 3
window = "5m"

[[phases]]
id = "decommission"
title = "Phase 1: Decommission v1"
gate = ["down(agent-v1)", "up(web)"]

  [[phases.steps]]
  id = "stop-v1"
  title = "Disable v1 agents on every host"
  on = ["all"]
  run = '''@SET@; set_unit fleet-agent-v1 'inactive dead' '''
  verify = ["down(agent-v1)"]
  rollback = '''@SET@; set_unit fleet-agent-v1 'active running' '''
  within = "10s"

  [[phases.steps]]
  id = "backup"
  title = "Back up the v1 database"
  on = ["h1"]
  run = "echo backing up; echo rows=42"
  verify = ['command("test -d /")']

[[phases]]
id = "canary"
title = "Phase 2: Start v2"
gate = ["up(agent)", "p95(web) < 5s"]
hold = "1s"

  [[phases.steps]]
  id = "start-v2"
  title = "Start v2 agents (they take a while)"
  on = ["all"]
  run = '''@SET@; (sleep 1.5; set_unit fleet-agent 'active running') >/dev/null 2>&1 &'''
  verify = ["up(agent)"]
  within = "20s"
  rollback = '''@SET@; set_unit fleet-agent 'inactive dead' '''

[rollback]
title = "Quick rollback to v1"
on = ["all"]
run = '''@SET@; set_unit fleet-agent-v1 'active running'; set_unit fleet-agent 'inactive dead' '''
verify = ["up(agent-v1)"]
within = "20s"
"""


def runbook_services(web_url: str) -> str:
    return RUNBOOK.replace("@WEB@", web_url).replace("@SET@", SET)


def start_state(fleet) -> None:  # type: ignore[no-untyped-def]
    for h in fleet.hosts:
        fleet.set_systemd(h, "fleet-agent-v1", "active running")
        fleet.set_systemd(h, "fleet-agent", "inactive dead")
