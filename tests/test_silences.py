"""Silences and annotations for the cutover window (issue 27, item 5).

Silences against Debian's Alertmanager started on loopback (tests/alertmanager.py); annotations against
a loopback receiver that answers as Grafana's annotation API does and refuses any other shape.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from alertmanager import alertmanager  # noqa: F401  (the session fixture)
from cockpitcfg import write_config
from receiver import Receiver
from runbookcfg import SET

from cockpit.config import load_config
from cockpit.session import Session

PLAN = r"""
[services.api-v1]
on = ["all"]
systemd = "api-v1"
retired_by = "cut.stop-v1"

[services.unrelated]
on = ["all"]
systemd = "unrelated"

[[phases]]
id = "cut"
title = "Cut over"

  [[phases.steps]]
  id = "stop-v1"
  title = "Stop the v1 API"
  on = ["all"]
  run = '''@SET@; sleep @SLEEP@; set_unit api-v1 'inactive dead' '''
  verify = ["down(api-v1)"]
  within = "10s"
  rollback = '''@SET@; set_unit api-v1 'active running' '''

[rollback]
title = "Back to v1"
on = ["all"]
run = '''@SET@; set_unit api-v1 'active running' '''
verify = ["up(api-v1)"]
within = "10s"
"""


def _config(fleet, tmp_path, extra: str, sleep: float = 1.0, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    for h in ("h1", "h2"):
        fleet.set_systemd(h, "api-v1", "active running")
        fleet.set_systemd(h, "unrelated", "active running")
    text = PLAN.replace("@SET@", SET).replace("@SLEEP@", str(sleep)) + extra
    return load_config(write_config(tmp_path, fleet, text, hosts=["h1", "h2"]), env=env or {})


def _am(url: str, test_id: str) -> str:
    return f"""
[alertmanager]
url = "{url}"
matchers = ['service="{{service}}"', 'host="{{host}}"', 'test="{test_id}"', 'step=~"{{step}}"']
"""


async def _until(what, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(what)
        if got:
            return got
        await asyncio.sleep(0.1)
    return await asyncio.to_thread(what)


async def _step_silenced(s: Session, am, test_id: str):  # type: ignore[no-untyped-def]
    """Start the step; its silences once Alertmanager shows them active."""
    await s.engine.run_round()
    step = asyncio.create_task(s.runbook.run_step("cut.stop-v1"))
    active = await _until(lambda: [x for x in am.silences(test=test_id) if x["status"]["state"] == "active"])
    return step, active


def _kinds(s: Session, kind: str) -> list[dict]:  # type: ignore[type-arg]
    assert s.journal is not None
    return [e for e in s.journal.timeline() if e["kind"] == kind]


async def test_a_step_silences_what_it_retires_until_it_ends(fleet, tmp_path, alertmanager) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    test_id = uuid.uuid4().hex
    s = Session(_config(fleet, tmp_path, _am(alertmanager.url, test_id), sleep=1.5), "alice")
    try:
        step, active = await _step_silenced(s, alertmanager, test_id)
        assert sorted((m["host"], m["service"]) for m in
                      ({n["name"]: n["value"] for n in x["matchers"]} for x in active)) == [
            ("h1", "api-v1"), ("h2", "api-v1")]  # the retired service on each host, not the unrelated one
        one = active[0]
        assert one["createdBy"] == "alice" and "cut.stop-v1" in one["comment"] and "Stop the v1 API" in one["comment"]
        step_matcher = next(m for m in one["matchers"] if m["name"] == "step")
        assert step_matcher["isRegex"] and step_matcher["value"] == r"cut\.stop\-v1"  # escaped in a regex
        view = await step
        assert view.state == "done"
        assert s.announcer is not None
        await s.announcer.drain(10)
        states = {x["id"]: x["status"]["state"] for x in alertmanager.silences(test=test_id)}
        assert set(states) == {x["id"] for x in active} and set(states.values()) == {"expired"}
        assert [r["ok"] for r in _kinds(s, "silence")] == [True, True]
        assert [r["ok"] for r in _kinds(s, "silence-expire")] == [True, True]
    finally:
        await s.close()


async def test_a_rollback_expires_the_silences(fleet, tmp_path, alertmanager) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    test_id = uuid.uuid4().hex
    s = Session(_config(fleet, tmp_path, _am(alertmanager.url, test_id), sleep=30), "alice")
    try:
        step, active = await _step_silenced(s, alertmanager, test_id)
        assert len(active) == 2
        await s.runbook.quick_rollback()  # pre-empts the running step
        await asyncio.gather(step, return_exceptions=True)
        assert s.announcer is not None
        await s.announcer.drain(10)
        states = [x["status"]["state"] for x in alertmanager.silences(test=test_id)]
        assert states == ["expired", "expired"]
    finally:
        await s.close()


async def test_annotations_as_grafana_reads_them_and_a_dead_alertmanager_never_blocks(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    grafana = Receiver(grafana=True, token="gtok-987").start()
    extra = f"""
[grafana]
url = "{grafana.url}"
token = "${{GRAFANA_TOKEN}}"
tags = ["cutover", "test"]
dashboard_uid = "cut"

[alertmanager]
url = "http://127.0.0.1:9"
retries = 1
timeout = "1s"
"""
    try:
        s = Session(_config(fleet, tmp_path, extra, sleep=0.2, env={"GRAFANA_TOKEN": "gtok-987"}), "alice")
        warned: list[str] = []
        s.outside_warnings.append(warned.append)
        try:
            await s.engine.run_round()
            began = time.monotonic()
            view = await s.runbook.run_step("cut.stop-v1")
            assert view.state == "done" and time.monotonic() - began < 10  # the dead Alertmanager: only a warning
            assert s.announcer is not None
            await s.announcer.drain(10)
            got = grafana.received
            posts = [r for r in got if r.method == "POST"]
            patches = [r for r in got if r.method == "PATCH"]
            assert {tuple(p.body["tags"][2:]) for p in posts} == {("phase", "cut"), ("step", "cut.stop-v1")}
            step_post = next(p for p in posts if "step" in p.body["tags"])
            assert step_post.body["dashboardUID"] == "cut" and "step cut.stop-v1 started" in step_post.body["text"]
            assert step_post.headers["Authorization"] == "Bearer gtok-987"
            step_patch = next(p for p in patches if "step" in p.body["tags"])
            assert step_patch.body["timeEnd"] >= step_post.body["time"] and "done" in step_patch.body["text"]
            ann = _kinds(s, "annotation")
            assert ann and all(r["ok"] for r in ann), ann  # every call had Grafana's shape (else a 400)
            silences = _kinds(s, "silence")
            assert len(silences) == 2 and not any(r["ok"] for r in silences)
            assert all(r["attempts"] == 2 for r in silences)
            assert any("silence" in w and "failed after 2 attempt(s)" in w for w in warned)
            assert "gtok-987" not in str(s.journal.timeline())  # type: ignore[union-attr]
        finally:
            await s.close()
    finally:
        grafana.stop()
