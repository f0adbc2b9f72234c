"""Issue 14, item 3: hostile text on every screen shows literally, and no escape reaches the terminal.

A service name, action/phase/step titles, the operator's name, a typed reason and remote output carry
Rich/Textual markup, OSC 0 and OSC 52 (title, clipboard), CSI 2J (clear screen) and a bidi override.
Each screen is rendered by the real compositor (what would be written to the terminal) and read back.
"""

from __future__ import annotations

import json
from pathlib import Path

from cockpitcfg import write_config
from test_ui_pilot import observer_tries_a_step, until

from cockpit.config import load_config
from cockpit.session import Session
from screens.app import CockpitApp
from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.host_detail import HostDetailScreen
from screens.reason import ReasonPrompt

ESCAPES = "\x1b]0;PWNED-TITLE\x07\x1b]52;c;UFdORUQ=\x07\x1b[2J\u202e"
MARKUP = "[link=file:///etc/passwd]mal[/link][/b][bold red]"
TITLE = f"T{MARKUP}{ESCAPES}x"
SERVICE = "s[b]x[i]y"  # markup if rendered as such ("sxy"); no "/": that names a compose container part
OPERATOR = f"op{MARKUP}{ESCAPES}"

RUN = "printf 'out" + MARKUP + "\\033]0;CMDTXT\\007\\033[2J\\342\\200\\256\\n'"
CONFIG = f"""
[services.{json.dumps(SERVICE)}]
on = ["all"]
systemd = "fleet-agent"

[actions.hostile]
key = "h"
title = {json.dumps(TITLE)}
on = ["h1"]
run = {json.dumps(RUN)}
confirm = true

[[phases]]
id = "p"
title = {json.dumps(TITLE)}

  [[phases.steps]]
  id = "s"
  title = {json.dumps(TITLE)}
"""


def screen_text(app: CockpitApp) -> str:
    """Every cell the compositor would draw now, as text (control characters would survive here)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def inert(text: str) -> None:
    assert not any(c in text for c in ("\x1b", "\x07", "\x9b", "\u202e")), repr(text)
    assert "PWNED" not in text and "UFdORUQ" not in text


async def test_hostile_text_shows_literally_on_every_screen(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for h in ("h1", "h2", "h3"):
        fleet.set_systemd(h, "fleet-agent", "active running")
    path = write_config(tmp_path, fleet, CONFIG, cockpit={"interval": "0.5s", "journal": str(tmp_path / "j.sqlite")})
    session = Session(load_config(path), OPERATOR)
    app = CockpitApp(session.engine, quiet=True, operator=OPERATOR, session=session)
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause(1.0)
            await pilot.press("2")  # the services grid names the service
            await until(pilot, lambda: SERVICE in screen_text(app))
            inert(screen_text(app))
            await pilot.press("3")  # the plan: phase and step titles
            await until(pilot, lambda: "T" + MARKUP in screen_text(app))
            inert(screen_text(app))

            await pilot.press("h")  # a confirmed action: its title and command on the confirm screen
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await until(pilot, lambda: "T" + MARKUP in screen_text(app))
            inert(screen_text(app))
            await pilot.press("y")
            await until(pilot, lambda: any("1 ok" in n.message for n in app._notifications))
            await pilot.press("4")  # output of the action: printed markup and escapes
            await until(pilot, lambda: "out" + MARKUP in screen_text(app))
            inert(screen_text(app))

            await pilot.press("question_mark")  # help lists the action's title
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert ("h", "T" + MARKUP + "x") in [(k, d) for k, d, _ in app.screen.rows]  # type: ignore[attr-defined]
            inert(screen_text(app))
            await pilot.press("escape")

            await pilot.press("ctrl+p")  # the palette: the action's entry
            await pilot.pause(0.3)
            await pilot.press(*"Action")
            await until(pilot, lambda: "Action: T" + MARKUP in screen_text(app))
            inert(screen_text(app))
            await pilot.press("escape")
            await pilot.pause(0.2)

            app.action_skip_step("p.s")  # the reason prompt, then the reason journaled with the operator
            await until(pilot, lambda: isinstance(app.screen, ReasonPrompt))
            await pilot.press(*("why" + MARKUP))  # keys cannot type ESC: the journal test covers escapes in reasons
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, ReasonPrompt))
            await until(pilot, lambda: bool(session.journal.transitions("p.s")))
            [skipped] = session.journal.transitions("p.s")
            assert (skipped["reason"], skipped["operator"]) == ("why" + MARKUP, "op" + MARKUP), skipped
            inert(screen_text(app))

            app.action_host_detail("h1")  # host detail: service rows and the action with its output
            await until(pilot, lambda: isinstance(app.screen, HostDetailScreen))
            await until(pilot, lambda: SERVICE in screen_text(app) and "T" + MARKUP in screen_text(app))
            inert(screen_text(app))
            for n in app._notifications:
                inert(n.message)
            assert app.is_running
    finally:
        await session.close()


async def test_observer_refusal_names_a_hostile_driver_literally(fleet, httpd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Finding 2: a driver named ``[link=file:///etc/passwd]mal[/link]`` crashed an observer (MarkupError)."""
    from runbookcfg import runbook_services, start_state

    start_state(fleet)
    path = write_config(tmp_path, fleet, runbook_services(httpd.route("/ok")), cockpit={"interval": "0.5s"})
    driver = Session(load_config(path), "[link=file:///etc/passwd]mal[/link]\x1b]0;PWNED\x07")
    try:
        observer = Session(load_config(path), "bob")
        app = CockpitApp(observer.engine, quiet=True, operator="bob", session=observer)
        async with app.run_test(size=(160, 48)) as pilot:
            refusal = await observer_tries_a_step(pilot, app)
            assert "[link=file:///etc/passwd]mal[/link] on " in refusal.message and not refusal.markup, refusal
            inert(refusal.message)
            inert(screen_text(app))
            assert app.is_running and not observer.engine.actions.history
    finally:
        await driver.close()
