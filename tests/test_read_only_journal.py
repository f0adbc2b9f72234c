"""``--read-only`` on a healthy journal: it opens read-only, attempts no write and says nothing false.

Before: the gate loop journaled its verdicts and holds from the read-only cockpit, SQLite refused, and the
banner said ``JOURNAL NOT WRITABLE … attempt to write a readonly database``; with no cockpit holding the
lease the banner also said "another cockpit drives the runbook". The journal here is a real one a driving
session wrote (a step done), on a real local host; the read-only cockpit runs its real session for several
gate rounds.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from localcfg import LOCAL_HOST, ONE_PHASE

from cockpit.config import load_config
from cockpit.session import Session
from screens.app import CockpitApp

CONFIG = """\
[cockpit]
title = "read-only"
interval = "0.2s"

[journal]
path = "journal.db"

""" + LOCAL_HOST + "\n" + ONE_PHASE


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def records(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return list(conn.execute("SELECT id, at, kind, operator, data FROM log ORDER BY id"))
    finally:
        conn.close()


async def test_read_only_leaves_the_journal_byte_identical_and_says_nothing_false(tmp_path: Path) -> None:
    cfg = tmp_path / "cockpit.toml"
    cfg.write_text(CONFIG)
    driver = Session(load_config(cfg), "alice")
    await driver.start(poll=False)
    view = await driver.runbook.run_step("one.mark")
    assert view.state == "done"
    await driver.close()  # releases the lease: nobody drives now
    journal = tmp_path / "journal.db"
    wal = tmp_path / "journal.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed on close: every record is in the file
    before, rows = digest(journal), records(journal)
    assert rows

    session = Session(load_config(cfg), "bob", read_only=True)
    app = CockpitApp(session.engine, read_only=True, quiet=True, operator="bob", session=session)
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + 15
        header = app.dashboard.query_one("#header")
        while "gate holds" not in header.render().plain and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert "gate holds" in header.render().plain
        await pilot.pause(1.5)  # several more gate rounds (every second) and rounds (every 0.2 s)
        banner = str(app.dashboard.query_one("#banner").render())
        assert "READ-ONLY" in header.render().plain
        assert "NOT WRITABLE" not in banner and "readonly database" not in banner, banner
        assert "another cockpit drives" not in banner, banner  # nobody holds the lease
        assert "no cockpit drives the runbook now" in banner, banner
        assert "T takes over" not in banner, banner  # T is disabled here
        assert not any("NOT WRITABLE" in n.message for n in app._notifications)
    assert digest(journal) == before
    assert not wal.exists() or wal.stat().st_size == 0
    assert records(journal) == rows
