"""Windows and history in a SQLite file shared by the processes of one host (the default: in the
report folder); a file that is not ours is moved aside, one of version 1 migrated."""

from __future__ import annotations

import functools
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..files import check_existing, private_file
from ..history import AlertRecord, HeldBack, OpenWindow
from ..log import logger
from .base import DEFAULT_RETENTION, AlertStore, Claim, Key, Retention, new_token


class _Foreign(sqlite3.DatabaseError):
    """A SQLite database, but not our store (another schema, a planted trigger)."""


def _not_ours(exc: sqlite3.DatabaseError) -> bool:
    """Foreign or corrupt, so worth replacing; not a lock, a full disk or a permission."""
    if isinstance(exc, _Foreign):
        return True
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    return "not a database" in str(exc) or "malformed" in str(exc)


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction taken at once (``BEGIN IMMEDIATE``), rolled back on failure."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


Layout = tuple[tuple[tuple[str, str], ...], tuple[tuple[Any, ...], ...]]


def _layout(conn: sqlite3.Connection) -> Layout:
    """What a database holds: its objects (type, name) and every table's columns."""
    objects = tuple(sorted(conn.execute("SELECT type, name FROM sqlite_master").fetchall()))
    columns = tuple(
        (name, *row[1:]) for kind, name in objects if kind == "table"
        for row in conn.execute("SELECT * FROM pragma_table_info(?)", (name,)))
    return objects, columns


@functools.cache
def _reference(schema: tuple[str, ...]) -> Layout:
    """The layout ``schema`` makes, built once in memory: what a file of ours must hold."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in schema:
            conn.execute(statement)
        return _layout(conn)
    finally:
        conn.close()


class SQLiteStore(AlertStore):
    """A file shared by every worker process on the host; survives restarts.

    A window ends at the ``expires_at`` its claim set (as a Redis key expires), so changing
    ``alert_window_days`` applies from the next alert on. The claim is a single
    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``: SQLite runs it under one
    write lock, so two processes can never both take the same window.

    The file is ours or it is not used: created 0600 without following a symlink, owned by this
    user, stamped with ``APPLICATION_ID``/``USER_VERSION`` and holding exactly our tables.
    A file of version 1 (one ``wpm_alerts`` table keyed by endpoint alone) is migrated in place:
    its windows are kept under the service ``""``. Anything else found there is moved aside
    (``<name>.foreign-<time>``) and replaced.
    """

    APPLICATION_ID = 0x57504D01  # "WPM" 1, in the file's header (PRAGMA application_id)
    USER_VERSION = 2  # the schema below
    _SCHEMA = (
        """CREATE TABLE wpm_windows (
            service TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            expires_at REAL NOT NULL,
            token TEXT NOT NULL,
            suppressed INTEGER NOT NULL DEFAULT 0,
            reported INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            held_max REAL NOT NULL DEFAULT 0,
            held_last REAL NOT NULL DEFAULT 0,
            held_at REAL NOT NULL DEFAULT 0,
            changed_at REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (service, endpoint)
        )""",
        """CREATE TABLE wpm_history (
            id INTEGER PRIMARY KEY,
            service TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            at REAL NOT NULL,
            duration REAL NOT NULL,
            status INTEGER,
            report TEXT,
            trace_id TEXT,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL
        )""",
        "CREATE INDEX wpm_history_at ON wpm_history (at)",
    )
    _SCHEMA_V1 = (
        """CREATE TABLE wpm_alerts (
            endpoint TEXT PRIMARY KEY,
            expires_at REAL NOT NULL,
            token TEXT NOT NULL,
            suppressed INTEGER NOT NULL DEFAULT 0,
            reported INTEGER NOT NULL DEFAULT 0
        )""",
    )
    _MIGRATE_V1 = (
        "INSERT INTO wpm_windows (service, endpoint, expires_at, token, suppressed, reported, "
        "changed_at) SELECT '', endpoint, expires_at, token, suppressed, reported, expires_at "
        "FROM wpm_alerts",
        "DROP TABLE wpm_alerts",
    )
    _CLAIM = """
        INSERT INTO wpm_windows (service, endpoint, expires_at, token, changed_at)
        VALUES (:service, :endpoint, :now + :window, :token, :now)
        ON CONFLICT (service, endpoint) DO UPDATE SET
            expires_at = excluded.expires_at, token = excluded.token,
            reported = wpm_windows.suppressed, suppressed = 0, changed_at = :now
        WHERE wpm_windows.expires_at <= :now
        RETURNING token, reported"""
    # An upsert: the endpoint may have no row yet (its claim went to the fallback store during
    # an outage), where a bare UPDATE would match nothing and lose the count. The new row's
    # window has already ended, so the next claim takes it and reports the count.
    _SUPPRESS = """
        INSERT INTO wpm_windows (service, endpoint, expires_at, token, suppressed, held,
                                 held_max, held_last, held_at, changed_at)
        VALUES (:service, :endpoint, :now, '', :n, :n, :duration, :duration, :at, :now)
        ON CONFLICT (service, endpoint) DO UPDATE SET
            suppressed = wpm_windows.suppressed + :n, held = wpm_windows.held + :n,
            held_max = max(wpm_windows.held_max, :duration), held_last = :duration,
            held_at = :at, changed_at = :now"""
    _MERGE = """
        INSERT INTO wpm_windows (service, endpoint, expires_at, token, suppressed, held,
                                 changed_at)
        VALUES (:service, :endpoint, :expires_at, :token, :suppressed, :suppressed, :now)
        ON CONFLICT (service, endpoint) DO UPDATE SET
            token = CASE WHEN wpm_windows.expires_at <= :now THEN excluded.token
                         ELSE wpm_windows.token END,
            expires_at = CASE WHEN wpm_windows.expires_at <= :now THEN excluded.expires_at
                              ELSE wpm_windows.expires_at END,
            suppressed = wpm_windows.suppressed + excluded.suppressed,
            held = wpm_windows.held + excluded.suppressed, changed_at = :now"""
    _RECORD = """
        INSERT INTO wpm_history (service, endpoint, at, duration, status, report, trace_id,
                                 host, pid)
        VALUES (:service, :endpoint, :at, :duration, :status, :report, :trace_id, :host, :pid)"""
    _FILTER = ("(:service IS NULL OR service = :service) "
               "AND (:endpoint IS NULL OR endpoint = :endpoint)")
    # A window row matters until its window ended and ``keep_seconds`` passed since its last
    # change (a count it holds is told by the next alert until then).
    _PURGE_WINDOWS = "DELETE FROM wpm_windows WHERE max(expires_at, changed_at) < :before"
    _PURGE_HISTORY = """
        DELETE FROM wpm_history WHERE at < :oldest OR id NOT IN (
            SELECT id FROM wpm_history ORDER BY at DESC, id DESC LIMIT :count)
        RETURNING id"""
    PURGE_EVERY = 3600.0  # seconds between deletions of long-expired window rows
    busy_timeout = 10.0  # seconds a statement waits for another process's write lock

    def __init__(self, path: str, retention: Retention = DEFAULT_RETENTION) -> None:
        self.path = os.path.abspath(path)  # resolved once: a later chdir moves nothing
        self.retention = retention
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._purge_at = 0.0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never share a connection over fork
            self._conn, self._pid = self._open(), os.getpid()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        """Connect to our file, replacing a foreign or corrupt one once."""
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        for attempt in range(2):
            inode = private_file(self.path)
            for suffix in ("-wal", "-shm", "-journal"):
                check_existing(self.path + suffix)
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            try:
                self._initialise(conn)
                return conn
            except sqlite3.DatabaseError as exc:
                conn.close()
                if attempt or not _not_ours(exc):
                    raise
                self._move_aside(inode, exc)
        raise AssertionError("unreachable")

    def _initialise(self, conn: sqlite3.Connection) -> None:
        self._check_schema(conn, stamp=False)  # before any write: a foreign file stays as it was
        # Workers starting together race to switch a new file to WAL; SQLite answers "database
        # is locked" there without waiting for busy_timeout, so the set-up is retried.
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.01 + random.random() * 0.05)
        with _immediate(conn):  # one worker stamps a new file, the others see it stamped
            self._check_schema(conn, stamp=True)
            # Alert records are trimmed when one is added, and by ``prune`` (which counts them).
            conn.execute(self._PURGE_WINDOWS,
                         {"before": time.time() - self.retention.keep_seconds})

    def _check_schema(self, conn: sqlite3.Connection, *, stamp: bool) -> None:
        """Accept our file (or an unstamped one with exactly our tables); ``stamp`` a new one,
        migrating one of version 1.

        Raises ``_Foreign`` for anything else: another schema, an extra trigger, view or table.
        """
        (app_id,) = conn.execute("PRAGMA application_id").fetchone()
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if app_id not in (0, self.APPLICATION_ID):
            raise _Foreign(f"application id {app_id}, version {version}")
        layout = _layout(conn)
        if layout == ((), ()) and app_id == 0:
            schema: Sequence[str] = self._SCHEMA  # a new file
        elif layout == _reference(self._SCHEMA) and version in (0, self.USER_VERSION):
            if app_id:
                return
            schema = ()
        elif layout == _reference(self._SCHEMA_V1) and version in (0, 1):
            schema = (*self._SCHEMA, *self._MIGRATE_V1)
            if stamp:
                logger.info("web_performance_monitor: the alert store %s is of version 1: "
                            "migrated (its windows are kept under the service \"\")", self.path)
        else:
            expected = _reference(self._SCHEMA)[0]
            extra = [f"{kind} {name}" for kind, name in layout[0] if (kind, name) not in expected]
            raise _Foreign(f"version {version}, unexpected objects: {', '.join(extra)}"
                           if extra else f"version {version}, another layout of our tables")
        if stamp:
            for statement in schema:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {self.APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {self.USER_VERSION}")

    def _move_aside(self, inode: int, exc: BaseException) -> None:
        """Rename the foreign file (if it is still the one we inspected) and its companions."""
        aside = f"{self.path}.foreign-{time.time_ns()}"
        try:
            if os.stat(self.path).st_ino != inode:
                return  # another worker replaced it already
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        for suffix in ("-wal", "-shm", "-journal"):
            try:
                os.rename(self.path + suffix, aside + suffix)
            except FileNotFoundError:
                pass
        logger.warning("web_performance_monitor: the alert store %s was not ours (%s): moved "
                       "aside to %s and recreated", self.path, exc, aside)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, under this store's lock and one write transaction."""
        with self._lock:
            try:
                conn = self._connection()
                with _immediate(conn):
                    yield conn
            except sqlite3.DatabaseError:
                self._drop()  # reconnect (and re-check the file) next time
                raise

    def _execute(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.DatabaseError:
                self._drop()  # reconnect (and re-check the file) next time
                raise

    def _purge_all(self, conn: sqlite3.Connection, now: float) -> int:
        """Delete expired window rows and alert records beyond the retention; records deleted."""
        conn.execute(self._PURGE_WINDOWS, {"before": now - self.retention.keep_seconds})
        return self._purge_history(conn, now)

    def _purge_history(self, conn: sqlite3.Connection, now: float) -> int:
        count = self.retention.history_count or -1  # LIMIT -1: no limit
        return len(conn.execute(self._PURGE_HISTORY, {"oldest": self.retention.oldest(now),
                                                      "count": count}).fetchall())

    def _purge(self, now: float) -> None:
        """Delete rows whose window ended more than ``keep_seconds`` ago (hourly)."""
        if now >= self._purge_at:
            self._purge_at = now + self.PURGE_EVERY
            self._execute(self._PURGE_WINDOWS, {"before": now - self.retention.keep_seconds})

    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        self._purge(time.time())
        token = new_token()
        rows = self._execute(self._CLAIM, {"service": service, "endpoint": endpoint,
                                           "now": time.time(), "token": token,
                                           "window": window_seconds})
        if not rows or rows[0][0] != token:
            return None
        return Claim(endpoint, token, int(rows[0][1]), service)

    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        now = time.time()
        self._execute(self._SUPPRESS, {"service": service, "endpoint": endpoint, "n": count,
                                       "duration": duration, "at": now if at is None else at,
                                       "now": now})

    def release(self, claim: Claim) -> None:
        self._execute(
            # The window ends now (not at 0): the row's retention counts from its last change.
            "UPDATE wpm_windows SET expires_at = :now, changed_at = :now, "
            "suppressed = suppressed + reported + 1, reported = 0 "
            "WHERE service = :s AND endpoint = :e AND token = :t",
            {"s": claim.service, "e": claim.endpoint, "t": claim.token, "now": time.time()},
        )

    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        now = time.time()
        rows = [{"service": key[0], "endpoint": key[1], "expires_at": expires_at,
                 "token": token, "suppressed": suppressed.get(key, 0), "now": now}
                for key, (expires_at, token) in windows.items()]
        rows += [{"service": key[0], "endpoint": key[1], "expires_at": now, "token": "",
                  "suppressed": count, "now": now}
                 for key, count in suppressed.items() if key not in windows]
        with self._transaction() as conn:
            conn.executemany(self._MERGE, rows)
            conn.executemany(self._RECORD, [record.as_dict() for record in records])
            self._purge_history(conn, now)

    def record(self, alert: AlertRecord) -> None:
        with self._transaction() as conn:
            conn.execute(self._RECORD, alert.as_dict())
            self._purge_history(conn, time.time())

    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        rows = self._execute(
            "SELECT service, endpoint, at, duration, status, report, trace_id, host, pid "
            f"FROM wpm_history WHERE {self._FILTER} AND at >= :since "
            "ORDER BY at DESC, id DESC LIMIT :limit",
            {"service": service, "endpoint": endpoint, "since": since or 0.0,
             "limit": -1 if limit is None else limit})
        return [AlertRecord(*row) for row in rows]

    def held(self, service: str | None = None) -> list[HeldBack]:
        rows = self._execute(
            "SELECT service, endpoint, held, held_max, held_last, held_at FROM wpm_windows "
            f"WHERE held > 0 AND {self._FILTER}", {"service": service, "endpoint": None})
        return [HeldBack(*row) for row in rows]

    def windows(self, service: str | None = None) -> list[OpenWindow]:
        rows = self._execute(
            "SELECT service, endpoint, expires_at, suppressed FROM wpm_windows "
            f"WHERE expires_at > :now AND {self._FILTER} ORDER BY expires_at",
            {"service": service, "endpoint": None, "now": time.time()})
        return [OpenWindow(*row) for row in rows]

    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        return len(self._execute(
            "UPDATE wpm_windows SET expires_at = :now, changed_at = :now "
            f"WHERE expires_at > :now AND {self._FILTER} RETURNING endpoint",
            {"service": service, "endpoint": endpoint, "now": time.time()}))

    def prune(self, now: float | None = None) -> int:
        with self._transaction() as conn:
            return self._purge_all(conn, time.time() if now is None else now)

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()
