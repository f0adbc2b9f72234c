"""Notifications (issue 27, item 4): [[notify]] webhooks against a real loopback receiver, the bell in a pilot.

A failed gate is the event in these tests: one round with a service down and the runbook judging its gate,
through the real session (the announcer hears the runbook's published views, like the TUI's screen does).
"""

from __future__ import annotations

import asyncio
import json
import time

from cockpitcfg import write_config
from receiver import Receiver
from test_cli_fleet import cockpit

from cockpit.config import load_config
from cockpit.session import Session

RUNBOOK = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[[phases]]
id = "cut"
title = "Cut over"
gate = ["up(agent)"]

  [[phases.steps]]
  id = "noop"
  title = "Nothing"
  on = ["h1"]
  run = "true"
"""

HOOK = """
[[notify]]
url = "@URL@/hook/${HOOK_SECRET}"
body = '{"text": "{title}: {summary}", "kind": "{event}", "quote": "a \\"{ref}\\" {{literal}}"}'
headers = { Authorization = "Bearer ${HOOK_TOKEN}" }
retries = @RETRIES@
backoff = "0.2s"
timeout = "@TIMEOUT@"
"""

ENV = {"HOOK_SECRET": "s3cr3t-path", "HOOK_TOKEN": "tok-123456"}


def _config(fleet, tmp_path, url: str, retries: int = 3, timeout: str = "5s"):  # type: ignore[no-untyped-def]
    hook = HOOK.replace("@URL@", url).replace("@RETRIES@", str(retries)).replace("@TIMEOUT@", timeout)
    path = write_config(tmp_path, fleet, RUNBOOK + hook, hosts=["h1", "h2"])
    return load_config(path, env=ENV)


async def _fail_gate(s: Session) -> None:
    await s.engine.run_round()
    await s.runbook.evaluate_gates()


def _records(s: Session, kind: str) -> list[dict]:  # type: ignore[type-arg]
    assert s.journal is not None
    return [e for e in s.journal.timeline() if e["kind"] == kind]


async def test_webhook_delivers_the_body_and_retries_after_a_500(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "failed failed")
    hook = Receiver([500, 200]).start()
    try:
        s = Session(_config(fleet, tmp_path, hook.url), "alice")
        try:
            await _fail_gate(s)
            got = await asyncio.to_thread(hook.wait_for, 2)
            assert len(got) == 2, got  # the 500, then the retry that was delivered
            assert got[1].at - got[0].at >= 0.15  # waited the backoff
            req = got[1]
            assert req.method == "POST" and req.path == "/hook/s3cr3t-path"
            assert req.headers["Authorization"] == "Bearer tok-123456"
            assert req.body["kind"] == "gate-failed"
            assert req.body["text"].startswith("Test fleet: gate of cut FAILS: ") and "h2" in req.body["text"]
            assert req.body["quote"] == 'a "cut" {literal}'  # filled inside JSON strings: the shape stays
            await s.announcer.drain(5)  # type: ignore[union-attr]
            rec = _records(s, "notify")
            assert len(rec) == 1 and rec[0]["ok"] is True and rec[0]["attempts"] == 2 and rec[0]["status"] == 200
            text = json.dumps(s.journal.timeline())  # type: ignore[union-attr]
            assert "s3cr3t-path" not in text and "tok-123456" not in text and "/hook/***" in text
            hook.received.clear()
            await _fail_gate(s)  # still failing: not news, no second page
            await asyncio.sleep(0.5)
            assert hook.received == []
        finally:
            await s.close()
    finally:
        hook.stop()


async def test_a_hung_receiver_never_delays_a_round(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "failed failed")
    hook = Receiver().start()
    hook.hang = True
    try:
        s = Session(_config(fleet, tmp_path, hook.url, retries=1, timeout="1.5s"), "alice")
        try:
            await s.engine.run_round()
            began = time.monotonic()
            quiet_round = await _timed_round(s)
            await s.runbook.evaluate_gates()  # the gate fails: the webhook is posted, and hangs
            assert time.monotonic() - began < 1.0 + quiet_round
            await asyncio.to_thread(hook.wait_for, 1)
            assert s.outbox.pending == 1
            rounds = [await _timed_round(s) for _ in range(3)]  # while the delivery hangs
            assert max(rounds) < quiet_round + 1.0, (rounds, quiet_round)
            assert s.outbox.pending == 1
            await s.announcer.drain(10)  # type: ignore[union-attr]
            rec = _records(s, "notify")
            assert len(rec) == 1 and rec[0]["ok"] is False and rec[0]["attempts"] == 2
            assert "no answer within 1.5 s" in rec[0]["error"]
        finally:
            await s.close()
    finally:
        hook.stop()


async def _timed_round(s: Session) -> float:
    t = time.monotonic()
    await s.engine.run_round()
    return time.monotonic() - t


async def test_the_bell_rings_for_a_failed_gate_unless_quiet(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from screens.app import CockpitApp

    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, RUNBOOK, hosts=["h1", "h2"])
    for quiet in (False, True):
        s = Session(load_config(path), "alice")
        app = CockpitApp(s.engine, quiet=quiet, operator="alice", session=s, live=False)
        rings: list[float] = []
        app.bell = _counting(app.bell, rings)  # type: ignore[method-assign]
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await s.engine.run_round()
                await s.runbook.evaluate_gates()  # holds: no bell
                await pilot.pause(0.2)
                assert rings == []
                fleet.set_systemd("h2", "fleet-agent", "failed failed")
                await s.engine.run_round()
                await s.runbook.evaluate_gates()  # fails: one bell
                await pilot.pause(0.3)
                await s.engine.run_round()
                await s.runbook.evaluate_gates()  # still failing: no second bell
                await pilot.pause(0.3)
                assert len(rings) == (0 if quiet else 1)
        finally:
            await s.close()
        fleet.set_systemd("h2", "fleet-agent", "active running")


def _counting(bell, rings: list[float]):  # type: ignore[no-untyped-def]
    """The app's own bell (it writes BEL to a real terminal), counted."""
    def ring() -> None:
        rings.append(time.monotonic())
        bell()

    return ring


def test_bad_notify_config_names_the_key_and_exits_2(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = RUNBOOK + """
[[notify]]
url = "http://127.0.0.1:9/x"
body = '{"text": "{sumary}"}'
events = ["gate-failed", "coffee"]
"""
    path = write_config(tmp_path, fleet, bad, hosts=["h1"])
    res = cockpit("validate", str(path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    line = path.read_text().splitlines().index("""body = '{"text": "{sumary}"}'""") + 1
    assert f":{line}: [notify.1.body]" in res.stderr, res.stderr  # the file's line, the key path
    assert "{sumary} is not a field" in res.stderr and "did you mean {summary}?" in res.stderr
    assert "'coffee' is not an event" in res.stderr
    path.write_text(path.read_text().replace("""'{"text": "{sumary}"}'""", "'{\"text\": '"))
    res = cockpit("validate", str(path))
    assert res.returncode == 2 and "the body template is not JSON" in res.stderr


async def test_a_hostile_receivers_answer_is_one_clean_line_in_the_journal_and_the_warning(fleet, httpd,  # type: ignore[no-untyped-def]
                                                                                            tmp_path) -> None:
    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "failed failed")
    url = httpd.route("/hook/s3cr3t-path", status=400, body="\x1b[31mno\x1b]0;owned\x07\nsecond\u202eline".encode())
    config = _config(fleet, tmp_path, url.rsplit("/hook/", 1)[0], retries=0)
    s = Session(config, "alice")
    warned: list[str] = []
    s.outside_warnings.append(warned.append)
    try:
        await _fail_gate(s)
        await s.announcer.drain(10)  # type: ignore[union-attr]
        [rec] = _records(s, "notify")
        assert rec["ok"] is False and rec["status"] == 400 and rec["attempts"] == 1  # a 400 is final: no retry
        for text in (rec["error"], *warned):
            assert "\x1b" not in text and "\x07" not in text and "\n" not in text and "\u202e" not in text
            assert "no" in text and "s3cr3t-path" not in text
        assert warned and "HTTP 400" in warned[0]
    finally:
        await s.close()
