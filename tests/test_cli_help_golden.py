"""``cockpit --help`` and every subcommand's ``--help``, byte for byte as saved before the layout move.

The goldens in ``tests/golden/help/`` were written before the engine's modules moved into
subpackages (issue 12): a move that changes no behaviour leaves them equal. A deliberate
change to the CLI regenerates them with ``python tests/test_cli_help_golden.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden" / "help"
COMMANDS: list[tuple[str, ...]] = [
    (), ("validate",), ("snapshot",), ("check",), ("watch",), ("run",), ("plan",), ("step",),
    ("step", "run"), ("step", "tick"), ("step", "skip"), ("rollback",), ("gate",), ("baseline",),
    ("diff",), ("journal",), ("report",), ("demo",), ("serve",), ("serve-metrics",),
]


def _name(cmd: tuple[str, ...]) -> str:
    return "-".join(("cockpit",) + cmd) + ".txt"


def _help(cmd: tuple[str, ...]) -> str:
    env = {**os.environ, "COLUMNS": "100", "LC_ALL": "C.UTF-8"}
    env.pop("COCKPIT_CONFIG", None)
    out = subprocess.run([sys.executable, "-m", "cockpit", *cmd, "--help"], capture_output=True, text=True,
                         env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "cockpit")
def test_help_unchanged(cmd: tuple[str, ...]) -> None:
    assert _help(cmd) == (GOLDEN / _name(cmd)).read_text()


if __name__ == "__main__":
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for c in COMMANDS:
        (GOLDEN / _name(c)).write_text(_help(c))
