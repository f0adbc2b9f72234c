"""Which journal a config names: a SQLite file (a path) or a PostgreSQL database (a ``postgresql://`` URL)."""

from __future__ import annotations

from pathlib import Path

from cockpit.errors import JournalError
from cockpit.journal.pgstore import PgJournal, is_url
from cockpit.journal.records import Journal


def open_journal(target: str | Path, operator: str, *, readonly: bool = False,
                 spool_dir: Path | None = None) -> Journal:
    """Open (create, migrate) the journal at ``target``; ``spool_dir`` holds a database journal's spool."""
    if is_url(target):
        return PgJournal(str(target), operator, readonly=readonly, spool_dir=spool_dir).open()
    return Journal(Path(target), operator, readonly=readonly).open()


def journal_exists(target: str | Path) -> bool:
    """Whether a journal was ever written at ``target`` (read-only cockpits never create one).

    A file exists or not; a database is asked (connecting read-only): an empty one holds no journal yet.
    Raises JournalError when the database cannot be asked.
    """
    if not is_url(target):
        return Path(target).exists()
    probe = PgJournal(str(target), "probe", readonly=True)
    try:
        probe.open()
    except JournalError:
        if probe.schema_version == 0:
            return False
        raise
    finally:
        probe.close()
    return True
