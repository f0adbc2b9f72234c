"""The journal in PostgreSQL: the same records, lease and fence as the SQLite file, for a team.

:class:`PgJournal` is :class:`~cockpit.journal.Journal` with another connection under it: the records,
the lease and the reads are the same code (their SQL translated by :mod:`cockpit.journal.pgsql`), run on
one worker thread (:mod:`cockpit.journal.pgworker`). What differs:

- **Transactions.** Every write is ``BEGIN`` + ``pg_advisory_xact_lock`` (one writer at a time, as SQLite's
  ``BEGIN IMMEDIATE``), so the fence's read of the lease row and the decision it guards are one transaction
  that a take-over cannot interleave: a superseded driver's intent is refused by the database, whatever its
  timing. ``COMMIT`` returns once the server has it on disk (``synchronous_commit`` on, the default).
- **Clock.** Lease times (acquire, heartbeat, take-over, staleness) and record times come from the database's
  clock (``clock_timestamp()``), never the client's: a laptop ten minutes off can neither steal nor keep a lease.
- **Schema.** The same :data:`~cockpit.journal.schema.MIGRATIONS`, translated; the version is the row of
  ``cockpit_schema`` (PostgreSQL has no ``user_version``), migrated under the same advisory lock.
- **Outage.** Observations go through :class:`~cockpit.journal.obspool.ObservationSpool` (on disk, in order)
  and reach the database from its pump; while the database is unreachable a write raises
  :class:`~cockpit.errors.JournalUnavailable` (actions refused, fail closed) and, once it is back, the
  lease is re-validated (a fenced heartbeat) before the next intent is written.
- **Read-only.** ``readonly`` opens the connection with ``default_transaction_read_only``: it writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from cockpit.errors import JournalError, JournalUnavailable
from cockpit.journal.lease import DEFAULT_TTL, Lease
from cockpit.journal.obspool import ObservationSpool
from cockpit.journal.pgsql import PgConn
from cockpit.journal.pgworker import CONNECT_TIMEOUT, STATEMENT_TIMEOUT, Worker, connect_kwargs
from cockpit.journal.records import Journal
from cockpit.journal.schema import MIGRATIONS, SCHEMA_VERSION
from cockpit.journal.store import REFUSED, Sync
from cockpit.model import StatusChange

LOCK_KEY = 0x43434B4A  # pg_advisory_xact_lock key of journal writes ("CCKJ", as SQLite's application_id)
RETRY_EVERY = 1.0  # seconds between reconnect attempts while the database is unreachable
URL_SCHEMES = ("postgresql", "postgres")


def is_url(text: str | Path | None) -> bool:
    return isinstance(text, str) and text.split(":", 1)[0].lower() in URL_SCHEMES and "://" in text


def display_url(url: str) -> str:
    """The URL as shown and logged: never a password (there should be none; masked if there is)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, ""))


class PgJournal(Journal):
    """``PgJournal(url, operator, spool_dir=...).open()``: a journal in a PostgreSQL database."""

    def __init__(self, url: str, operator: str, *, clock: Callable[[], float] | None = None,
                 readonly: bool = False, spool_dir: Path | None = None,
                 statement_timeout: float = STATEMENT_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        super().__init__(Path("."), operator, clock=clock or self._db_clock, readonly=readonly)
        self.url = url
        self.path = display_url(url)  # type: ignore[assignment]  # shown in every message, as the file's path is
        self.statement_timeout = statement_timeout
        self.connect_timeout = connect_timeout
        self._pg: Any = None  # the psycopg connection; touched only on the worker
        self._worker: Worker | None = None
        self._down_since: float | None = None  # wall time the database was last found unreachable
        self._last_try = 0.0
        self._revalidate = False  # the connection came back: renew the lease before the next intent
        self._in_tx = False
        self.schema_version: int | None = None  # as found when opened (0: an empty database, no journal yet)
        self.spool = ObservationSpool(spool_dir, self._flush) if spool_dir is not None and not readonly else None

    # -- the connection ------------------------------------------------------------------------

    def open(self) -> Self:
        with self._lock:
            if self._worker is not None:
                return self
            self._worker = Worker(f"journal-pg:{self.path}", self.connect_timeout + self.statement_timeout + 1.0)
            try:
                self._connect()
                self._migrate()
            except JournalError:
                self.close()
                raise
        if self.readonly:
            self._writable = False
            self.last_error = f"the journal {self.path} is open read-only (an observer); it records nothing"
        else:
            self.probe_writable()
            if self.spool is not None and not self.spool.start():
                self.spool = None  # another cockpit on this machine owns the spool: write observations directly
        return self

    def _connect(self) -> None:
        """(Re)connect on the worker; JournalUnavailable naming why when the database cannot be reached."""
        import psycopg

        kwargs = connect_kwargs(self.statement_timeout, self.connect_timeout, self.readonly)

        def go() -> None:
            self._drop()
            self._pg = psycopg.connect(self.url, **kwargs)

        self._last_try = time.monotonic()
        try:
            self._call(go)
        except JournalUnavailable:
            self._mark_down()
            raise
        if self._down_since is not None or self._generation is not None:
            self._revalidate = self._generation is not None
        self._down_since = None

    def _drop(self) -> None:
        """On the worker: close the connection, whatever state it is in (a dead server included)."""
        if self._pg is not None:
            try:
                self._pg.close()
            except Exception:
                pass  # closing a broken connection never fails a reconnect or a shutdown
        self._pg = None

    def _mark_down(self) -> None:
        if self._down_since is None:
            self._down_since = time.time()
        self._writable = False

    @property
    def down_since(self) -> float | None:
        """When the database was found unreachable (wall clock), or None while it answers."""
        return self._down_since

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the worker; psycopg's errors become ours (see :meth:`_map`)."""
        assert self._worker is not None
        try:
            return self._worker.call(fn)
        except JournalError:
            raise
        except Exception as exc:
            raise self._map(exc) from exc

    def _map(self, exc: Exception) -> JournalError:
        import psycopg

        reason = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return JournalUnavailable(
                f"the journal {self.path} did not answer: a statement was cut by the "
                f"{self.statement_timeout:g} s statement_timeout ({reason}); {REFUSED}",
                "look for a lock or a long query in pg_stat_activity, and at the server's load")
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return JournalError(f"the journal {self.path} is open read-only: {reason}", "drive from another cockpit")
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return JournalError(f"the journal {self.path} refused the cockpit's role: {reason}; {REFUSED}",
                                "grant the role what docs/team.md lists (it must own the journal's database)")
        if isinstance(exc, (psycopg.errors.IntegrityError, psycopg.errors.DataError,
                            psycopg.errors.ProgrammingError)):
            return JournalError(f"the journal {self.path} refused a record: {reason}",
                                "this is a cockpit bug; please report it")
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            self._mark_down()
            return JournalUnavailable(f"the journal database {self.path} is unreachable: {reason}; {REFUSED}",
                                      "check the database server and the network to it; the cockpit reconnects "
                                      "by itself and flushes what it spooled")
        return JournalError(f"the journal {self.path} failed: {reason}; {REFUSED}", "check the database server")

    def _on_worker(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(connection)`` on the worker (PgConn's way in)."""

        def go() -> Any:
            if self._pg is None or self._pg.closed:
                import psycopg

                raise psycopg.OperationalError("the connection is closed")
            return fn(self._pg)

        try:
            return self._call(go)
        except JournalUnavailable:
            self._mark_down()
            raise

    def _ensure(self) -> PgConn:
        if self._worker is None:
            raise JournalError(f"the journal {self.path} is not open", "call open() first")
        if self._down_since is not None or self._pg is None or self._pg.closed:
            if self._down_since is not None and time.monotonic() - self._last_try < RETRY_EVERY:
                raise JournalUnavailable(
                    f"the journal database {self.path} has been unreachable since "
                    f"{time.strftime('%H:%M:%S', time.gmtime(self._down_since))} UTC; {REFUSED}",
                    "check the database server and the network to it; the cockpit reconnects by itself")
            self._connect()
        return PgConn(self._on_worker)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.stop()
        with self._lock:
            worker, self._worker = self._worker, None
            if worker is None:
                return

            try:
                worker.call(self._drop, deadline=2.0)
            except JournalError:
                pass  # a stuck worker: a daemon thread, gone with the process
            worker.stop(timeout=2.0)
            self._writable = False

    def _migrate(self) -> None:
        conn = self._ensure()
        version = self.schema_version = self._schema_version(conn)
        if version > SCHEMA_VERSION:
            raise self._future(version)
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise JournalError(f"the journal {self.path} has schema version {version}, older than this "
                               f"cockpit's ({SCHEMA_VERSION}), and it is open read-only",
                               "open it once from the driving cockpit, which migrates it")
        with self.write("FULL") as conn:
            version = self._schema_version(conn)  # re-read under the lock: another cockpit may have
            if version == 0:
                conn.execute("CREATE TABLE IF NOT EXISTS cockpit_schema (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO cockpit_schema (version) VALUES (0)")
            now = self._clock()
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target - 1](conn)  # type: ignore[arg-type]
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (f"migrated_to_v{target}", repr(now)))
                conn.execute("UPDATE cockpit_schema SET version = ?", (target,))
            if version == 0:
                conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 [("created_at", repr(now)), ("created_by", self.operator)])

    def _schema_version(self, conn: PgConn) -> int:
        exists = conn.execute("SELECT to_regclass('cockpit_schema') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            other = conn.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()").fetchone()
            if other and other[0]:
                raise JournalError(f"{self.path} is a PostgreSQL database with tables but not a cockpit journal",
                                   "give the journal a database of its own")
            return 0
        row = conn.execute("SELECT version FROM cockpit_schema").fetchone()
        return int(row[0]) if row else 0

    def _db_clock(self) -> float:
        """The database's clock (seconds since the epoch): lease and record times, one clock for the team."""
        with self.read() as conn:  # under the lock: on the one connection, never inside another thread's write
            row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
        assert row is not None
        return float(row[0])

    def now(self) -> float:
        return self._clock()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def write(self, sync: Sync) -> Iterator[Any]:
        """One write transaction under the journal's advisory lock; errors become ours (JournalUnavailable
        when the database is unreachable or a statement was cut by the timeout)."""
        with self._lock:
            if self._in_tx:  # a write inside a write (a migration step's helpers): the same transaction
                yield PgConn(self._on_worker)
                return
            conn = self._ensure()
            try:
                self._call(self._idle)
                conn.execute("BEGIN")
                conn.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))
            except JournalError as exc:
                self._failed_write(exc)
                self._rollback_pg()
                raise
            self._in_tx = True
            try:
                yield conn
                conn.execute("COMMIT")
            except JournalError as exc:
                self._rollback_pg()
                self._failed_write(exc)
                raise
            except BaseException:
                self._rollback_pg()  # a refusal (LeaseLost) or a bug: nothing half-written, still writable
                raise
            finally:
                self._in_tx = False
            self._writable = True
            self.last_error = ""

    def _failed_write(self, exc: JournalError) -> None:
        if isinstance(exc, JournalUnavailable) or "refused a record" not in exc.message:
            self._writable = False
            self.last_error = exc.message

    def _idle(self) -> None:
        """On the worker: end a transaction an earlier failure left open (a statement cut by the timeout while
        its caller had stopped waiting leaves it aborted), so this write never meets "current transaction is
        aborted" and is taken for a journal that refuses records."""
        from psycopg import pq

        if self._pg is not None and not self._pg.closed and self._pg.info.transaction_status != pq.TransactionStatus.IDLE:
            self._pg.execute("ROLLBACK")

    def _rollback_pg(self) -> None:
        def go() -> None:
            if self._pg is not None and not self._pg.closed:
                self._pg.execute("ROLLBACK")

        try:
            self._call(go)
        except JournalError:
            pass  # the connection is gone: the server rolled back

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self._lock:
            yield self._ensure()

    def _prepare(self, conn: Any) -> None:  # the SQLite file's opening; nothing of it applies here
        raise NotImplementedError

    def size_bytes(self) -> int:
        with self.read() as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            return int(row[0]) if row else 0

    @property
    def writable(self) -> bool:
        return self._worker is not None and self._writable and self._down_since is None

    # -- the lease on the database's clock ------------------------------------------------------

    def acquire_lease(self, operator: str, host: str, pid: int, now: float, ttl: float = DEFAULT_TTL) -> Lease:
        return super().acquire_lease(operator, host, pid, self._db_clock(), ttl)

    def take_over(self, operator: str, host: str, pid: int, now: float, reason: str,
                  ttl: float = DEFAULT_TTL) -> Lease:
        return super().take_over(operator, host, pid, self._db_clock(), reason, ttl)

    def heartbeat(self, now: float) -> Lease:
        lease = super().heartbeat(self._db_clock())
        self._revalidate = False
        return lease

    # -- decisions after an outage; observations through the spool --------------------------------

    def action_intent(self, title: str, kind: str, command: str, hosts: list[tuple[str, str]],
                      phase: str | None = None, step: str | None = None, *, at: float | None = None) -> int:
        """After the database came back, the lease is renewed (fenced) before any intent is written."""
        self._ensure()
        if self._revalidate and self._lease_me is not None:
            self.heartbeat(0.0)
        return super().action_intent(title, kind, command, hosts, phase, step, at=at)

    def status_changes(self, events: Iterable[StatusChange]) -> int:
        """Spooled on disk in order and written by the spool's pump (never waits for the database)."""
        batch = list(events)
        if self.spool is None:
            return super().status_changes(batch)
        self.spool.append(batch)
        return len(batch)

    def _flush(self, batch: list[StatusChange], gap: dict[str, Any] | None) -> None:
        """The pump's write: the gap record (if any) then the spooled observations, in one transaction."""
        with self.write("NORMAL") as conn:
            late = bool(self.superseded(conn))  # observations already made: written, flagged when not ours
            if gap is not None:
                self._log(conn, "journal-gap", gap["ended"], {**gap, **({"after_lease_lost": True} if late else {})})
            for e in batch:
                cur = conn.execute("INSERT INTO status_changes (at, host, service, old, new, detail) "
                                   "VALUES (?, ?, ?, ?, ?, ?)", (e.at, e.host, e.service, e.old, e.new, e.detail))
                self._log(conn, "status", e.at, {"host": e.host, "service": e.service, "old": e.old, "new": e.new,
                                                 "detail": e.detail, **({"after_lease_lost": True} if late else {})},
                          int(cur.lastrowid or 0))
