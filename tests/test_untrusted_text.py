"""Issue 14, findings 2 and 3: markup, control and format characters in names, notes and operators.

Text from outside (config strings, inventories, typed reasons, operator names, remote output) is
stripped of C0/C1 controls, escape sequences and Unicode format characters (bidi overrides and
isolates, zero-width) on the way in; the journal stores the stripped text and ``cockpit journal``
prints it one entry per line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from test_http_secrets import Ran, cockpit  # noqa: F401  (the in-process cockpit command)

from cockpit.config import load_config
from cockpit.errors import ConfigError
from cockpit.journal import Journal
from cockpit.sanitize import strip_control

FORMAT = ["\u200b", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
          "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", FORMAT, ids=[f"U+{ord(c):04X}" for c in FORMAT])
def test_format_characters_are_stripped(char: str) -> None:
    assert strip_control(f"adm{char}in.txt") == "admin.txt"


def test_cockpit_journal_prints_hostile_text_inert_and_one_entry_per_line(
        tmp_path: Path, cockpit: Callable[..., Ran]) -> None:  # noqa: F811
    journal = tmp_path / "j.sqlite"
    config = tmp_path / "c.toml"
    config.write_text(f'[cockpit]\njournal = "{journal}"\n[hosts.h1]\naddress = "127.0.0.1"\n')
    with Journal(journal, "mal\x1b]0;PWNED\x07lory\u202e") as j:
        j.transition("step", "p.s", "skipped", reason="line1\nline2 \x1b[2J\x1b]52;c;Zm9v\x07 [red]x[/red] \u2067rtl")
    with sqlite3.connect(journal) as conn:  # every text the journal holds, in every table
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        stored = " ".join(str(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))
    assert "mallory" in stored and "line2" in stored and not any(c in stored for c in ("\x1b", "\x07", "\u202e", "\u2067"))
    out = cockpit("journal", "-c", str(config), env={})
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "p.s" in ln]
    assert len(lines) == 1, out.stdout
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout
    assert "line1 line2" in lines[0] and "[red]x[/red]" in lines[0], lines[0]


def test_ansible_names_with_control_characters_are_refused(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("[web]\nweb1\x1b]0;PWNED\x07 ansible_host=10.0.0.2\nweb2\u202e ansible_host=10.0.0.3\n")
    config = tmp_path / "c.toml"
    config.write_text('[inventory]\nansible = "hosts.ini"\n')
    with pytest.raises(ConfigError) as err:
        load_config(config, env={})
    text = str(err.value)
    assert f"{inv}:2" in text and f"{inv}:3" in text, text
    assert "\x1b" not in text and "\u202e" not in text


async def test_hostile_action_title_shows_literally_in_toasts(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A title with markup and OSC: the completion toast shows it as typed, without the escape, and no crash."""
    import json
    import time

    from cockpitcfg import write_config

    from cockpit.engine import Engine
    from screens.app import CockpitApp

    title = "Say [link=file:///etc/passwd]mal[/link] [/b] \x1b]0;PWNED\x07hi\u202e"
    path = write_config(tmp_path, fleet, f'[actions.hello]\nkey = "h"\ntitle = {json.dumps(title)}\non = ["h1"]\n'
                                        'run = "echo hi"\n', hosts=["h1"], cockpit={"interval": "0.5s"})
    app = CockpitApp(Engine(load_config(path)), quiet=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        await pilot.press("h")
        deadline = time.monotonic() + 15
        while not any("1 ok" in n.message for n in app._notifications) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        [toast] = [n for n in app._notifications if "1 ok" in n.message]
        assert toast.message.startswith("Say [link=file:///etc/passwd]mal[/link] [/b] hi"), toast.message
        assert not toast.markup and "\x1b" not in toast.message and "\u202e" not in toast.message
        assert app.is_running


def test_validate_and_cli_errors_print_titles_and_arguments_inert(
        tmp_path: Path, cockpit: Callable[..., Ran]) -> None:  # noqa: F811
    config = tmp_path / "c.toml"
    config.write_text('[cockpit]\ntitle = "Cut\\u001b]0;PWNED\\u0007over\\u202e"\n[hosts.h1]\naddress = "127.0.0.1"\n'
                      '[actions.a]\nkey = "t"\ntitle = "Re[b]start\\u001b[2J\\u2067 now"\non = ["h1"]\nrun = "true"\n')
    out = cockpit("validate", str(config), env={})
    assert out.returncode == 0, out.stderr
    assert "Re[b]start now" in out.stdout and "Cutover" in out.stdout, out.stdout
    assert not any(c in out.stdout for c in ("\x1b", "\x07", "\u202e", "\u2067")) and "PWNED" not in out.stdout
    bad = cockpit("check", "-c", str(config), "--on", "x\x1b]0;PWNED\x07\u202e", env={})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    assert not any(c in bad.stderr for c in ("\x1b", "\x07", "\u202e")), repr(bad.stderr)


async def test_operator_name_is_stripped_before_the_lease_and_the_journal(tmp_path: Path) -> None:
    from cockpit.session import Session

    config = tmp_path / "c.toml"
    config.write_text(f'[cockpit]\njournal = "{tmp_path / "j.sqlite"}"\n[hosts.h1]\ntransport = "local"\n'
                      '[[phases]]\nid = "p"\ntitle = "P"\n  [[phases.steps]]\n  id = "s"\n  title = "S"\n')
    session = Session(load_config(config, env={}), "op\x1b]0;PWNED\x07[b]x\u202e")
    try:
        await session.start()
        assert session.operator == "op[b]x"
        assert session.lease is not None and session.lease.operator == "op[b]x", session.lease
    finally:
        await session.close()
