"""The journal's connection: opening and migrating, write transactions, and errors an operator can act on.

One ``sqlite3`` connection per journal, in autocommit mode so every write is an
explicit ``BEGIN IMMEDIATE`` ... ``COMMIT`` (a writer takes the lock up front
and never deadlocks upgrading a read). ``PRAGMA synchronous`` is set per
transaction: ``FULL`` for records that must survive a power cut (an action's
intent before its command fires), ``NORMAL`` for the high-volume ones. Every
``sqlite3``/OS error becomes a :class:`JournalError`; a failed write also turns
:attr:`Store.writable` off until a later write or :meth:`Store.probe_writable`
succeeds.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import quote

from cockpit.errors import JournalError
from cockpit.journal.schema import APPLICATION_ID, SCHEMA_VERSION, migrate, user_tables
from cockpit.sanitize import strip_control

Sync = Literal["FULL", "NORMAL"]

TRUNCATED_LOOKS = 4  # looks at a file shorter than its header before calling it truncated
BUSY_TIMEOUT = 5.0  # seconds a writer waits for another process's transaction
REFUSED = "actions are refused until it is fixed; monitoring goes on"


def describe(exc: BaseException, path: Path) -> tuple[str, str] | None:
    """(what is wrong with the journal, what to do) for a known sqlite3/OS failure, else None."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    code = exc.errno if isinstance(exc, OSError) else None
    where = path.parent
    if "READONLY" in name or code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ("is not writable",
                f"make {path} and {where} writable for this user; check the filesystem is not mounted read-only")
    if name == "SQLITE_FULL" or code in (errno.ENOSPC, errno.EDQUOT):
        return "is full", f"free space on the filesystem holding {where} (df -h {where})"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return ("is locked by another process",
                f"another cockpit held a write for over {BUSY_TIMEOUT:g} s; look for a stuck cockpit on this journal")
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or name.startswith("SQLITE_CORRUPT"):
        return ("is damaged or not a SQLite database",
                "move the file aside (keep it for the record) and start a new journal")
    if name.startswith("SQLITE_CANTOPEN") or code in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
        return "cannot be opened", f"check that {where} is a directory you can write in and the path is a file"
    if name.startswith("SQLITE_IOERR") or code == errno.EIO:
        return "could not be written (I/O error)", f"check the disk holding {where} (dmesg), its free space and mount"
    return None


def _remove(made: list[Path]) -> None:
    """Remove what a failed open created: the file (and SQLite's side files), then new directories."""
    for p in made:
        for side in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm"), p.with_name(p.name + "-journal")):
            try:
                if side.is_dir():
                    side.rmdir()
                else:
                    side.unlink(missing_ok=True)
            except OSError:
                pass  # not empty (someone else's), or gone already


class Store:
    """A journal file and its one connection; :class:`cockpit.journal.Journal` adds the records."""

    def __init__(self, path: Path, operator: str, *, clock: Callable[[], float] = time.time,
                 readonly: bool = False) -> None:
        self.path = Path(path)
        self.operator = strip_control(operator)  # typed or from the environment: untrusted
        self.readonly = readonly
        self.last_error = ""
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._sync: str = ""
        self._writable = False

    # -- life cycle ---------------------------------------------------------------------------

    def open(self) -> Self:
        """Create or migrate the file, switch it to WAL, then probe that it takes writes.

        A file or directory this call created is removed again when opening fails (a full disk, say), so a
        failed start leaves nothing behind that a later reader would take for a journal.
        """
        made = [] if self.readonly else [p for p in (self.path, *self.path.parents) if not p.exists()]
        try:
            return self._open()
        except JournalError:
            _remove(made)
            raise

    def _open(self) -> Self:
        with self._lock:
            if self._conn is not None:
                return self
            self._check_size()
            try:
                if self.readonly:
                    conn = sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode=ro", uri=True,
                                           timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
                else:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    if not self.path.exists():  # it holds command output: readable by its owner only
                        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
                    conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                           check_same_thread=False)
            except (sqlite3.Error, OSError) as exc:
                raise self._error("could not be opened", exc) from exc
            conn.row_factory = sqlite3.Row
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
                self._prepare(conn)
            except JournalError:
                conn.close()
                raise
            except (sqlite3.Error, OSError) as exc:
                self._rollback(conn)
                conn.close()
                raise self._error("could not be opened", exc) from exc
            self._conn = conn
            self._sync = ""
        if self.readonly:
            self._writable = False
            self.last_error = f"the journal {self.path} is open read-only (an observer); it records nothing"
        else:
            self.probe_writable()
        return self

    def _check_size(self) -> None:
        """Refuse a file that is empty or shorter than its own header says (truncated): SQLite would read it
        as a smaller, valid-looking journal, and a done step would show as open.

        A live driver's checkpoint writes page 1 (the header) before the pages that extend the file, so a
        short file is looked at again a few times (about half a second) before it is called truncated.
        """
        for _ in range(TRUNCATED_LOOKS - 1):
            if not self._short():
                return
            time.sleep(0.15)
        if short := self._short():
            raise JournalError(
                f"the journal {self.path} is truncated: {short}; records are missing",
                "restore the file from a backup or a copy (keep this one for the record); the file is left untouched")

    def _short(self) -> str:
        """How the file is shorter than its header says ("" when it is not)."""
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as f:
                header = f.read(100)
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise self._error("could not be opened", exc) from exc
        if size == 0:
            if self.readonly:
                raise JournalError(f"the journal {self.path} is empty (0 bytes): no cockpit ever wrote a journal "
                                   "to it (a start that failed may have left it)",
                                   "remove the empty file; the next driving cockpit creates the journal")
            return ""
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            return ""  # sqlite3 names it: not a database
        version = int.from_bytes(header[60:64], "big")
        if version > SCHEMA_VERSION:  # refused before SQLite opens it: not even its side files appear
            raise self._future(version)
        page = int.from_bytes(header[16:18], "big")
        page = 65536 if page == 1 else page
        pages = int.from_bytes(header[28:32], "big")
        valid = header[24:28] == header[92:96]  # the in-header size is only trusted when these agree
        if valid and pages and size < pages * page:
            return f"{size} bytes on disk, its header says {pages * page} ({pages} pages of {page})"
        return ""

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sqlite3.Error:
                    pass  # closing never fails a shutdown; WAL recovery handles it on the next open
                self._conn = None
                self._writable = False

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _prepare(self, conn: sqlite3.Connection) -> None:
        version = self._version(conn)
        if self.readonly:
            if version < SCHEMA_VERSION:
                raise JournalError(f"the journal {self.path} has schema version {version}, older than this "
                                   f"cockpit's ({SCHEMA_VERSION}), and it is open read-only",
                                   "open it once from the driving cockpit, which migrates it")
            return
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"the journal {self.path} could not be switched to WAL mode (it is in {mode} mode)",
                               "put the journal on a local filesystem")
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            migrate(conn, self._version(conn), self._clock(), self.operator)  # re-read: another process may have
            conn.execute("COMMIT")

    def _version(self, conn: sqlite3.Connection) -> int:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        app = int(conn.execute("PRAGMA application_id").fetchone()[0])
        if app not in (0, APPLICATION_ID) or (version == 0 and user_tables(conn)):
            raise JournalError(f"{self.path} is an SQLite database but not a cockpit journal",
                               "give the journal a path of its own")
        if version > SCHEMA_VERSION:
            raise self._future(version)
        return version

    def _future(self, version: int) -> JournalError:
        return JournalError(
            f"the journal {self.path} has schema version {version}; this cockpit only knows up to "
            f"version {SCHEMA_VERSION}",
            "upgrade the cockpit to the version that wrote this journal (or newer); the file is left untouched")

    # -- transactions -------------------------------------------------------------------------

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"the journal {self.path} is not open", "call open() first")
        return self._conn

    @contextmanager
    def write(self, sync: Sync) -> Iterator[sqlite3.Connection]:
        """One write transaction at the given durability; any failure becomes a JournalError."""
        with self._lock:
            conn = self._require()
            try:
                if self._sync != sync:
                    conn.execute(f"PRAGMA synchronous = {sync}")  # only allowed between transactions
                    self._sync = sync
                conn.execute("BEGIN IMMEDIATE")
            except (sqlite3.Error, OSError) as exc:
                raise self._failed(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError) as exc:
                self._rollback(conn)  # a bad record, not a bad journal: it stays writable
                raise JournalError(f"the journal {self.path} refused a record: {exc}",
                                   "this is a cockpit bug; please report it") from exc
            except (sqlite3.Error, OSError) as exc:
                self._rollback(conn)
                raise self._failed(exc) from exc
            except BaseException:
                self._rollback(conn)  # a refusal (JournalError) or a bug: nothing half-written, still writable
                raise
            self._writable = True
            self.last_error = ""

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._require()
            try:
                yield conn
            except (sqlite3.Error, OSError) as exc:
                raise self._error("could not be read", exc) from exc

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite already rolled back (e.g. after SQLITE_FULL)

    def _failed(self, exc: BaseException) -> JournalError:
        err = self._error("could not be written", exc, refuse=True)
        self._writable = False
        self.last_error = err.message
        return err

    def _error(self, doing: str, exc: BaseException, refuse: bool = False) -> JournalError:
        known = describe(exc, self.path)
        problem, hint = known if known else (doing, "check the file, its directory and the disk")
        reason = str(exc).strip() or type(exc).__name__
        suffix = f"; {REFUSED}" if refuse else ""
        return JournalError(f"the journal {self.path} {problem}: {reason}{suffix}", hint)

    # -- helpers for the record writers ------------------------------------------------------

    def _log(self, conn: sqlite3.Connection, kind: str, at: float, data: dict[str, Any], ref: int | None = None,
             operator: str | None = None) -> int:
        """The record's line in ``log``, written in the same transaction as the record itself."""
        cur = conn.execute(
            "INSERT INTO log (at, kind, operator, ref, data) VALUES (?, ?, ?, ?, ?)",
            (at, kind, self.operator if operator is None else operator, ref,
             json.dumps(data, ensure_ascii=False, separators=(",", ":"))))
        return int(cur.lastrowid or 0)

    def _insert_transition(self, conn: sqlite3.Connection, at: float, kind: str, target: str, state: str,
                           reason: str, detail: str, operator: str | None = None,
                           stamp: dict[str, str] | None = None) -> int:
        """``stamp``: the plan and step fingerprints of the decision (``plan``, ``step_fp``), when known."""
        if kind not in ("phase", "step", "runbook"):
            raise ValueError(f"transition kind must be phase, step or runbook, not {kind!r}")
        op = self.operator if operator is None else operator
        stamp = stamp or {}
        cur = conn.execute(
            "INSERT INTO transitions (at, kind, target, state, reason, detail, operator, plan, step_fp) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at, kind, target, state, reason, detail, op, stamp.get("plan"), stamp.get("step_fp")))
        tid = int(cur.lastrowid or 0)
        self._log(conn, "transition", at, {"transition_id": tid, "target_kind": kind, "target": target,
                                           "state": state, "reason": reason, "detail": detail, **stamp}, tid, op)
        return tid

    def now(self) -> float:
        """The journal's clock: the lease's times are on it (PostgreSQL: the database's clock)."""
        return self._clock()

    # -- health -------------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """False after a failed write, until a write or :meth:`probe_writable` succeeds again."""
        return self._conn is not None and self._writable

    def probe_writable(self) -> bool:
        """Commit a scratch row with fsync and delete it; never raises. Sets writable and last_error."""
        try:
            with self.write("FULL") as conn:
                conn.execute("INSERT INTO scratch (at) VALUES (?)", (self._clock(),))
            with self.write("FULL") as conn:
                conn.execute("DELETE FROM scratch")
        except JournalError as exc:
            self._writable = False
            self.last_error = exc.message
        return self.writable

    def size_bytes(self) -> int:
        """The database file plus its write-ahead log, as they are on disk now."""
        total = 0
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += os.path.getsize(p)
            except OSError:
                pass
        return total
