"""`cockpit validate` on keys claimed twice (issue 23, item 1): two actions, a runbook step key or a built-in binding.

Each is a config error (exit 2, no traceback) naming the key, both claimants and where each is defined: the
other action's table and line, or the built-in binding's name and the pane it acts in. The engine's table of
built-in keys is checked against the screens' real bindings, so a new key cannot be forgotten there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from localcfg import LOCAL_HOST

from cockpit.engine import BUILTIN_KEYS, RESERVED_KEYS
from screens.app import CockpitApp
from screens.confirm import ConfirmScreen
from screens.dashboard import DashboardScreen
from screens.dashboard_keys import WHERE
from screens.widgets.fleet_table import FleetTable

ROOT = Path(__file__).resolve().parent.parent


def validate(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "cockpit.toml"
    path.write_text(LOCAL_HOST + body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "cockpit", "validate", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def action(name: str, key: str) -> str:
    return f'\n[actions.{name}]\nkey = "{key}"\non = ["all"]\nrun = "true"\n'


def test_two_actions_on_one_key_name_each_other_and_their_lines(tmp_path: Path) -> None:
    out = validate(tmp_path, action("restart", "t") + action("tail-logs", "t"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    # LOCAL_HOST is 7 lines, then a blank one: [actions.restart] is line 9, [actions.tail-logs] line 14
    assert ("cockpit.toml:14: [actions.tail-logs.key] key 't' is claimed twice: by [actions.restart] "
            "(line 9) and by [actions.tail-logs] (line 14)") in out.stderr, out.stderr
    assert "fix: give each action its own key" in out.stderr


@pytest.mark.parametrize(("key", "says"), [
    ("S", "key 'S' is taken by the built-in runbook key 'Skip step' (where it acts: plan (the selected step))"),
    ("p", "key 'p' is taken by the built-in key 'Probe' (where it acts: dashboard)"),
    ("o", "key 'o' is taken by the built-in key 'Sort' (where it acts: fleet table)"),
    ("ctrl+q", "key 'ctrl+q' is taken by the built-in key 'Quit' (where it acts: everywhere)"),
])
def test_an_action_on_a_built_in_key_names_the_binding_and_where_it_acts(tmp_path: Path, key: str,
                                                                         says: str) -> None:
    out = validate(tmp_path, action("mine", key))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert says in out.stderr, out.stderr
    assert "choose another key" in out.stderr


def test_the_engine_knows_every_built_in_binding() -> None:
    """Every key the screens bind is in the engine's table under the binding's own name (and nothing else is)."""
    real: dict[str, str] = {}
    for cls in (DashboardScreen, CockpitApp, FleetTable, ConfirmScreen):
        for b in cls.BINDINGS:
            if b.action.removeprefix("app.") in ("command_palette",) or b.key in real:
                continue
            real[b.key] = b.description
    for key, name in real.items():
        assert key in BUILTIN_KEYS, key
        assert BUILTIN_KEYS[key][0] == name, (key, BUILTIN_KEYS[key], name)
    for b in DashboardScreen.BINDINGS:
        action = b.action.split("(")[0]
        if action in WHERE:
            assert BUILTIN_KEYS[b.key][1] == WHERE[action], b.key
    assert {"ctrl+p", "colon", ":"} <= RESERVED_KEYS
