"""`cockpit check --format text|json|junit|tap`: one set of cases, read back as CI tools read them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from cockpitcfg import write_config
from tap.parser import Parser
from test_cli_fleet import SERVICES as BASE
from test_cli_fleet import cockpit

SERVICES = BASE + """
[services.sshd]
on = ["h1"]
tcp = @PORT@

[runbook]
min_samples = 5

[[phases]]
id = "cut"
title = "Cut over"
gate = ["up(agent)", "down(agent)", "p95(sshd) < 5s"]

  [[phases.steps]]
  id = "noop"
  title = "Nothing"
  on = ["h1"]
  run = "true"
"""


def _setup(fleet, tmp_path):  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "failed failed")  # a critical service down: a failure
    fleet.set_docker("h2", "admin", "exited none 0")  # non-critical down: a warning, never failing
    return write_config(tmp_path, fleet, SERVICES.replace("@PORT@", str(fleet["h1"].port)), hosts=["h1", "h2"])


def test_check_junit_shape(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _setup(fleet, tmp_path)
    res = cockpit("check", "-c", str(path), "--format", "junit", "--gates")
    assert res.returncode == 1, res.stderr
    root = ET.fromstring(res.stdout)
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"services", "gate cut"}
    for suite in suites.values():  # the counts CI tools show are the children's
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        assert all(c.get("classname") and c.get("name") for c in cases)
    svc = {c.get("name"): c for c in suites["services"].findall("testcase")}
    assert set(svc) == {"h1 agent", "h1 sshd", "h2 agent", "h2 admin"}
    assert svc["h1 agent"].find("failure") is None and svc["h1 agent"].find("skipped") is None
    fail = svc["h2 agent"].find("failure")
    assert fail is not None and "down" in fail.get("message") and "failed" in (fail.text or "")
    assert svc["h2 admin"].find("failure") is None  # non-critical: never a failure
    gate = {c.get("name"): c for c in suites["gate cut"].findall("testcase")}
    assert list(gate) == ["up(agent)", "down(agent)", "p95(sshd) < 5s"]
    assert gate["up(agent)"].find("failure") is not None  # h2's agent is down
    assert gate["down(agent)"].find("failure") is not None  # h1's agent is up
    skipped = gate["p95(sshd) < 5s"].find("skipped")  # one round: too few samples to judge
    assert skipped is not None and skipped.get("message")
    assert int(root.get("tests")) == 7 and int(root.get("failures")) == 3


def test_check_tap_parsed(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _setup(fleet, tmp_path)
    res = cockpit("check", "-c", str(path), "--format", "tap", "--gates")
    assert res.returncode == 1, res.stderr
    lines = list(Parser().parse_text(res.stdout))
    assert lines[0].category == "version" and lines[0].version == 13
    plan = next(line for line in lines if line.category == "plan")
    tests = [line for line in lines if line.category == "test"]
    assert plan.expected_tests == len(tests) == 7
    by_name = {t.description.removeprefix("- "): t for t in tests}
    assert by_name["services: h1 agent"].ok and not by_name["services: h2 agent"].ok
    assert by_name["services: h2 admin"].ok
    assert not by_name["gate cut: up(agent)"].ok
    p95 = by_name["gate cut: p95(sshd) < 5s"]
    assert p95.skip and p95.directive.reason
    assert [t.number for t in tests] == list(range(1, 8))


def test_check_json_and_text_agree(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _setup(fleet, tmp_path)
    res = cockpit("check", "-c", str(path), "--format", "json")
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    assert doc["schema"] == "cutover-cockpit/check" and doc["ok"] is False
    assert doc["counts"] == {"pass": 3, "fail": 1, "skip": 0}
    text = cockpit("check", "-c", str(path))  # the default is still the text operators read
    assert text.returncode == 1
    assert "FAIL h2 agent: down" in text.stdout and "WARN h2 admin: down" in text.stdout
    assert "1 problem(s) on 2 host(s)" in text.stdout and "GATE" not in text.stdout
    bad = cockpit("check", "-c", str(path), "--format", "xml")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "Traceback" not in bad.stderr
