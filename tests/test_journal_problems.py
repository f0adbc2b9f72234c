"""A damaged, future or unreachable journal is always named (issue 13, finding 5): ``plan``, ``report`` and
``journal`` print its path and the cause and exit non-zero, and no command leaves a file that was not there.

Real files, real SQLite, a real full filesystem (a small tmpfs the test mounts), ``cockpit`` in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cutover_exec import cockpit

from cockpit.journal import SCHEMA_VERSION, Journal
from cockpit.model import StatusChange

T0 = 1795341600.0

CONFIG = """
[cockpit]
title = "Journal problems"

[journal]
path = "{path}"
lease_ttl = "{ttl}"

[hosts.me]
transport = "local"

[[phases]]
id = "p"
title = "Only phase"

  [[phases.steps]]
  id = "s"
  title = "Only step"
  on = ["me"]
  run = "true"
"""


def config_for(tmp_path: Path, journal: Path, ttl: str = "15s") -> Path:
    """A config with one local host and a one-step runbook, its journal at ``journal``."""
    path = tmp_path / "cockpit.toml"
    path.write_text(CONFIG.format(path=journal, ttl=ttl))
    return path


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def assert_named(result: subprocess.CompletedProcess[str], journal: Path, cause: str) -> None:
    assert result.returncode != 0, result.stdout
    assert str(journal) in result.stderr and cause in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def make_journal(path: Path) -> None:
    """A journal whose step p.s is done, written after enough other records that it lives in the second half."""
    with Journal(path, "alice", clock=lambda: T0) as j:
        for i in range(40):
            j.status_changes([StatusChange(T0 + i, "me", "web", "up", "down", "x" * 3000)])
        j.transition("step", "p.s", "done")
    assert not path.with_name(path.name + "-wal").exists() or path.with_name(path.name + "-wal").stat().st_size == 0


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


@pytest.mark.parametrize("damage", ["truncated", "future-schema", "unopenable"])
def test_plan_report_and_journal_name_a_damaged_journal_and_exit_non_zero(tmp_path: Path, damage: str) -> None:
    journal = tmp_path / "run" / "journal.sqlite"
    journal.parent.mkdir()
    if damage == "truncated":
        make_journal(journal)
        truncate_half(journal)
        cause = "is truncated"
    elif damage == "future-schema":
        make_journal(journal)
        conn = sqlite3.connect(journal)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
        cause = f"schema version {SCHEMA_VERSION + 1}"
    else:
        journal.mkdir()  # a directory where the file should be
        cause = "cannot be opened"
    config = config_for(tmp_path, journal)
    before = files(tmp_path)
    for command in ("plan", "report", "journal"):
        result = cockpit(command, "-c", str(config))
        assert_named(result, journal, cause)
        assert "pending" not in result.stdout and "run the cutover first" not in result.stderr
    assert files(tmp_path) == before  # nothing created, nothing removed


@pytest.fixture
def full_fs() -> Iterator[Path]:
    """A 256 KiB tmpfs, filled up: a real "No space left on device"."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mnt = Path(tempfile.mkdtemp(prefix="cockpit-full-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=False).returncode != 0:
        mnt.rmdir()
        pytest.skip("cannot mount a tmpfs here")
    try:
        with open(mnt / "filler", "wb", buffering=0) as f:
            try:
                for _ in range(1000):  # bounded: 256 KiB is 64 writes  # noqa: FURB122 (each write may be the full one)
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
        mnt.rmdir()


def test_a_full_filesystem_is_named_and_leaves_no_file_behind(tmp_path: Path, full_fs: Path) -> None:
    journal = full_fs / "run" / "journal.sqlite"
    config = config_for(tmp_path, journal)
    before = files(full_fs)
    result = cockpit("baseline", "-c", str(config))
    assert_named(result, journal, "is full")
    assert "df -h" in result.stderr
    assert files(full_fs) == before  # no 0-byte journal (nor its directory) left for `cockpit journal` to misread
    result = cockpit("journal", "-c", str(config))
    assert result.returncode != 0 and f"no journal at {journal}" in result.stderr


def test_an_empty_file_is_called_empty_not_schema_version_0(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    journal.touch()
    result = cockpit("journal", "-c", str(config_for(tmp_path, journal)))
    assert_named(result, journal, "is empty (0 bytes)")
    assert "schema version 0" not in result.stderr


async def test_the_cockpit_names_a_truncated_journal_in_its_banner(tmp_path: Path) -> None:
    """The TUI keeps monitoring, and says which journal is wrong and why; actions are refused."""
    from test_ui_pilot import until

    from cockpit.config import load_config
    from cockpit.session import Session
    from screens.app import CockpitApp

    journal = tmp_path / "journal.sqlite"
    make_journal(journal)
    truncate_half(journal)
    config = config_for(tmp_path, journal)
    before = files(tmp_path)
    session = Session(load_config(config), "alice")
    app = CockpitApp(session.engine, quiet=True, operator="alice", session=session)
    async with app.run_test(size=(160, 48)) as pilot:
        banner = app.dashboard.query_one("#banner")
        await until(pilot, lambda: "is truncated" in str(banner.render()))
        assert str(journal) in str(banner.render())
    assert files(tmp_path) == before
