"""Alert de-duplication and history: at most one alert per endpoint per window, across threads,
processes, restarts and (with Redis) hosts; and what each endpoint alerted and held back.

An endpoint's identity in the store is ``(service, endpoint)`` (``Key``): two applications with
the same route sharing a report folder, a SQLite file or a Redis never silence each other.

A store answers one question atomically: "may I alert for this endpoint now?" (``claim``). When
the answer is no, the slow request is counted (``suppress``) and the next claim returns that
count, so the next alert can say how many slow requests went unreported. When every notifier
fails, ``release`` gives the window back so that a later slow request can try again.

It also remembers, for the team's view (``history``; read by the index page and ``wpm``), every
alert that went out (``record``) and the slow requests each window held back (``held``), bounded
by the report retention settings (``Retention``), and lets a user see and reset open windows.

Stores heal (issue 14). A SQLite file that is not ours (corrupt bytes, another schema, a
trigger planted by another user) is moved aside and recreated, with one warning; a file owned by
another user or a symlink is refused; a file of the previous version is migrated. ``FailoverStore``
answers from a process-wide in-memory store while the configured one is down, tries it again
every ``retry_seconds``, and hands it the windows, counts and alerts taken meanwhile. Nothing is
kept forever: Redis keys expire and old SQLite rows are deleted.
"""

from __future__ import annotations

import functools
import json
import os
import random
import sqlite3
import threading
import time
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .files import check_existing, private_file
from .history import AlertRecord, EndpointSummary, HeldBack, OpenWindow
from .log import logger

if TYPE_CHECKING:
    from .config import Config

T = TypeVar("T")
DAY = 86400.0
Key = tuple[str, str]  # (service, endpoint): an endpoint's identity in the store


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a store keeps what it knows.

    ``keep_seconds``: windows' suppressed and held-back counts, after their last change.
    ``history_days`` / ``history_count``: alert records older than that, or beyond the newest
    ``history_count`` of all endpoints together, are deleted (0 = no such limit): the same
    rule as the report files (``report_retention_days`` / ``report_retention_count``).
    """

    keep_seconds: float = 30 * DAY
    history_days: float = 30.0
    history_count: int = 500

    @classmethod
    def from_config(cls, config: Config) -> Retention:
        """Counts are kept as long as the longer of the alert window and the report retention
        (at least a day); alert records as long as the reports."""
        keep = max(config.alert_window_days, config.report_retention_days, 1.0) * DAY
        return cls(keep, config.report_retention_days, config.report_retention_count)

    def oldest(self, now: float) -> float:
        """The start time of the oldest alert record to keep at ``now`` (0.0: no age limit)."""
        return now - self.history_days * DAY if self.history_days else 0.0


@dataclass(frozen=True, slots=True)
class Claim:
    endpoint: str
    token: str
    suppressed_before: int  # slow requests not alerted since the previous alert
    service: str = ""


class AlertStore(ABC):
    """Where alert windows and history live. Implementations must make ``claim`` atomic.

    ``service`` and ``endpoint`` filters of the read methods: None = all.
    """

    @abstractmethod
    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        """Take the window for ``(service, endpoint)`` if it is free; None when already taken."""

    @abstractmethod
    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        """Count ``count`` slow requests that were not alerted (the window was taken).

        ``duration`` (seconds) and ``at`` (start, epoch seconds; default now) of the latest of
        them, for the held-back figures (``held``).
        """

    @abstractmethod
    def release(self, claim: Claim) -> None:
        """Give the window back (all notifiers failed); keeps the suppressed count."""

    @abstractmethod
    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        """Take in what was decided elsewhere (by the fallback, during an outage).

        ``windows``: key -> (end of the window, epoch seconds; the claim's token), so a
        ``release`` of such a claim still works here. A window already taken here is kept (that
        alert went out too); suppressed counts add up; ``records`` are added to the history.
        """

    @abstractmethod
    def record(self, alert: AlertRecord) -> None:
        """Remember an alert that went out; the oldest beyond the retention are dropped."""

    @abstractmethod
    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        """Alerts kept, newest first; ``since``: started at or after (epoch seconds);
        ``limit`` None = all."""

    @abstractmethod
    def held(self, service: str | None = None) -> list[HeldBack]:
        """Per endpoint, the slow requests its windows held back (endpoints with none left out)."""

    @abstractmethod
    def windows(self, service: str | None = None) -> list[OpenWindow]:
        """The windows open now, the soonest to end first."""

    @abstractmethod
    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        """End the matching open windows now (their next slow request alerts); how many.

        The held-back counts stay: the next alert tells them.
        """

    @abstractmethod
    def prune(self, now: float | None = None) -> int:
        """Apply the retention now (it also runs on its own); how many alert records went."""

    def endpoints(self, service: str | None = None) -> list[EndpointSummary]:
        """One summary per endpoint with alerts or held-back requests, last seen first."""
        records: dict[Key, list[AlertRecord]] = {}
        for record in self.history(service, limit=None):  # newest first
            records.setdefault((record.service, record.endpoint), []).append(record)
        held = {(h.service, h.endpoint): h for h in self.held(service)}
        until = {(w.service, w.endpoint): w.until for w in self.windows(service)}
        summaries = []
        for key in records.keys() | held.keys():
            alerts = records.get(key, [])
            back = held.get(key)
            latest = alerts[0] if alerts else None
            recent_held = back is not None and (latest is None or back.last_at > latest.at)
            summaries.append(EndpointSummary(
                service=key[0], endpoint=key[1], alerts=len(alerts),
                held_back=back.count if back else 0,
                last_duration=back.last_duration if recent_held and back else (
                    latest.duration if latest else 0.0),
                worst_duration=max([a.duration for a in alerts]
                                   + [back.max_duration if back else 0.0]),
                last_seen=max([latest.at if latest else 0.0, back.last_at if back else 0.0]),
                latest_report=next((a.report for a in alerts if a.report), None),
                window_until=until.get(key)))
        summaries.sort(key=lambda s: (-s.last_seen, s.service, s.endpoint))
        return summaries

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free connections; the store may be used again afterwards (it reconnects)."""


def _token() -> str:
    return uuid.uuid4().hex


def _matches(key: Key, service: str | None, endpoint: str | None = None) -> bool:
    return (service is None or key[0] == service) and (endpoint is None or key[1] == endpoint)


def _select(records: Iterable[AlertRecord], service: str | None, endpoint: str | None,
            since: float | None, limit: int | None) -> list[AlertRecord]:
    """``history`` over records in memory: filtered, newest first, at most ``limit``."""
    chosen = [r for r in records if _matches((r.service, r.endpoint), service, endpoint)
              and (since is None or r.at >= since)]
    chosen.sort(key=lambda r: r.at, reverse=True)
    return chosen if limit is None else chosen[:limit]


def _bounded(records: list[AlertRecord], retention: Retention, now: float) -> list[AlertRecord]:
    """The records the retention keeps at ``now``, newest first."""
    oldest = retention.oldest(now)
    kept = sorted((r for r in records if r.at >= oldest), key=lambda r: r.at, reverse=True)
    return kept[:retention.history_count] if retention.history_count else kept


class MemoryStore(AlertStore):
    """Per-process windows and history; for tests, single-process tools and the stand-in."""

    def __init__(self, retention: Retention = Retention()) -> None:
        self.retention = retention
        self._lock = threading.Lock()
        self._claimed: dict[Key, tuple[float, str]] = {}  # key -> (expires at, token)
        self._suppressed: dict[Key, int] = {}
        self._held: dict[Key, HeldBack] = {}
        self._records: list[AlertRecord] = []

    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        now, key = time.time(), (service, endpoint)
        with self._lock:
            current = self._claimed.get(key)
            if current and now < current[0]:
                return None
            token = _token()
            self._claimed[key] = (now + window_seconds, token)
            return Claim(endpoint, token, self._suppressed.pop(key, 0), service)

    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        key = (service, endpoint)
        with self._lock:
            self._suppressed[key] = self._suppressed.get(key, 0) + count
            self._hold(key, count, duration, time.time() if at is None else at)

    def _hold(self, key: Key, count: int, duration: float | None, at: float) -> None:
        """Add to the held-back figures (``duration`` None: a count only, from a merge)."""
        old = self._held.get(key) or HeldBack(key[0], key[1], 0, 0.0, 0.0, 0.0)
        if duration is None:
            self._held[key] = HeldBack(key[0], key[1], old.count + count, old.max_duration,
                                       old.last_duration, old.last_at)
        else:
            self._held[key] = HeldBack(key[0], key[1], old.count + count,
                                       max(old.max_duration, duration), duration, at)

    def release(self, claim: Claim) -> None:
        key = (claim.service, claim.endpoint)
        with self._lock:
            current = self._claimed.get(key)
            if current and current[1] == claim.token:
                del self._claimed[key]
                self._suppressed[key] = (
                    self._suppressed.get(key, 0) + claim.suppressed_before + 1)

    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        now = time.time()
        with self._lock:
            for key, (expires_at, token) in windows.items():
                current = self._claimed.get(key)
                if expires_at > now and not (current and now < current[0]):
                    self._claimed[key] = (expires_at, token)
            for key, count in suppressed.items():
                self._suppressed[key] = self._suppressed.get(key, 0) + count
                self._hold(key, count, None, now)
            self._records = _bounded(self._records + list(records), self.retention, now)

    def take_all(self) -> tuple[dict[Key, tuple[float, str]], dict[Key, int], list[AlertRecord]]:
        """Empty the store; its open windows, suppressed counts and alert records, for
        ``merge`` elsewhere."""
        now = time.time()
        with self._lock:
            windows = {k: w for k, w in self._claimed.items() if w[0] > now}
            suppressed, records = self._suppressed, self._records
            self._claimed, self._suppressed, self._held, self._records = {}, {}, {}, []
        return windows, suppressed, records

    def record(self, alert: AlertRecord) -> None:
        with self._lock:
            self._records = _bounded([*self._records, alert], self.retention, time.time())

    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        with self._lock:
            return _select(self._records, service, endpoint, since, limit)

    def held(self, service: str | None = None) -> list[HeldBack]:
        with self._lock:
            return [h for key, h in self._held.items() if _matches(key, service)]

    def windows(self, service: str | None = None) -> list[OpenWindow]:
        now = time.time()
        with self._lock:
            found = [OpenWindow(key[0], key[1], until, self._suppressed.get(key, 0))
                     for key, (until, _) in self._claimed.items()
                     if until > now and _matches(key, service)]
        return sorted(found, key=lambda w: w.until)

    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        now = time.time()
        with self._lock:
            doomed = [key for key, (until, _) in self._claimed.items()
                      if until > now and _matches(key, service, endpoint)]
            for key in doomed:
                del self._claimed[key]
        return len(doomed)

    def prune(self, now: float | None = None) -> int:
        with self._lock:
            before = len(self._records)
            self._records = _bounded(self._records, self.retention,
                                     time.time() if now is None else now)
            return before - len(self._records)


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

    def __init__(self, path: str, retention: Retention = Retention()) -> None:
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
            self._purge_all(conn, time.time())

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
        token = _token()
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


def _record_from(raw: bytes | str) -> AlertRecord | None:
    """An alert record read back from Redis; None for anything that is not one."""
    try:
        data = json.loads(raw)
        values = {item.name: data[item.name] for item in fields(AlertRecord)}
    except (ValueError, TypeError, KeyError):
        return None
    texts = ("service", "endpoint", "host")
    if not (all(isinstance(values[name], str) for name in texts)
            and all(isinstance(values[name], int | float) for name in ("at", "duration", "pid"))
            and all(values[name] is None or isinstance(values[name], str)
                    for name in ("report", "trace_id"))
            and (values["status"] is None or isinstance(values["status"], int))):
        return None
    return AlertRecord(**values)


class RedisStore(AlertStore):
    """Windows and history in Redis (``SET NX PX``), for applications served from several hosts.

    Keys, under ``prefix``, where ``<id>`` is ``json.dumps([service, endpoint])``:
    ``alert:<id>`` (the window: the claim's token, expiring with it), ``suppressed:<id>`` (slow
    requests held back since the last alert), ``held:<id>`` (a hash: count, max, last, at),
    ``endpoints`` (a sorted set of ids, scored by when they stop mattering) and ``history`` (a
    sorted set of alert records as JSON, scored by start time). Every key expires:
    a window with its claim, the others ``keep_seconds`` after they last changed.
    """

    # Keep KEYS[3] (the index) as long as the member ARGV[1] matters: until ARGV[2] (epoch
    # seconds), in ARGV[3] ms. Only ever extended.
    _TOUCH = """
        local function touch(index, member, score, ms)
            local old = redis.call('ZSCORE', index, member)
            if not old or tonumber(old) < tonumber(score) then
                redis.call('ZADD', index, score, member)
            end
            if redis.call('PTTL', index) < tonumber(ms) then
                redis.call('PEXPIRE', index, ms)
            end
        end
    """
    _CLAIM = _TOUCH + """
        if redis.call('SET', KEYS[1], ARGV[4], 'NX', 'PX', ARGV[5]) then
            local n = tonumber(redis.call('GET', KEYS[2]) or '0')
            redis.call('DEL', KEYS[2])
            touch(KEYS[3], ARGV[1], ARGV[2], ARGV[3])
            return n
        end
        return -1"""
    _SUPPRESS = _TOUCH + """
        redis.call('INCRBY', KEYS[1], ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('HINCRBY', KEYS[2], 'count', ARGV[4])
        if ARGV[5] ~= '' then
            local worst = tonumber(redis.call('HGET', KEYS[2], 'max') or '0')
            if tonumber(ARGV[5]) > worst then
                redis.call('HSET', KEYS[2], 'max', ARGV[5])
            end
            redis.call('HSET', KEYS[2], 'last', ARGV[5], 'at', ARGV[6])
        end
        redis.call('PEXPIRE', KEYS[2], ARGV[3])
        touch(KEYS[3], ARGV[1], ARGV[2], ARGV[3])
        return 0"""
    _RELEASE = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('DEL', KEYS[1])
            redis.call('INCRBY', KEYS[2], ARGV[2])
            redis.call('PEXPIRE', KEYS[2], ARGV[3])
        end
        return 0"""
    # KEYS[1] history; ARGV: the record ('' for none), its start, the oldest start kept, the
    # count kept (0: all), the key's ms; then its index (KEYS[2]) entry: member, score, ms.
    # Returns how many records were dropped.
    _RECORD = _TOUCH + """
        if ARGV[1] ~= '' then
            redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
            touch(KEYS[2], ARGV[6], ARGV[7], ARGV[8])
        end
        local dropped = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
        if tonumber(ARGV[4]) > 0 then
            dropped = dropped + redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
        end
        if redis.call('EXISTS', KEYS[1]) == 1 then
            redis.call('PEXPIRE', KEYS[1], ARGV[5])
        end
        return dropped"""

    def __init__(self, url: str, prefix: str = "wpm:", retention: Retention = Retention()) -> None:
        import redis  # the [redis] extra

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix
        self.retention = retention
        self._keep_ms = max(1, int(retention.keep_seconds * 1000))
        self._claim = self._client.register_script(self._CLAIM)
        self._suppress = self._client.register_script(self._SUPPRESS)
        self._release = self._client.register_script(self._RELEASE)
        self._record = self._client.register_script(self._RECORD)

    @staticmethod
    def _id(key: Key) -> str:
        return json.dumps(list(key))

    def _key(self, kind: str, key: Key) -> str:
        return f"{self._prefix}{kind}:{self._id(key)}"

    @property
    def _index(self) -> str:
        return f"{self._prefix}endpoints"

    def _keys(self) -> list[Key]:
        """Every endpoint the store still knows (from the index)."""
        found = []
        for member in self._client.zrangebyscore(self._index, time.time(), "+inf"):
            try:
                service, endpoint = json.loads(member if isinstance(member, bytes) else b"")
            except (ValueError, TypeError):
                continue
            if isinstance(service, str) and isinstance(endpoint, str):
                found.append((service, endpoint))
        return found

    def _index_args(self, key: Key, seconds: float) -> list[Any]:
        """The index entry for ``key``, mattering for ``seconds`` more: member, score, ms."""
        seconds = max(seconds, self.retention.keep_seconds)
        return [self._id(key), repr(time.time() + seconds), max(1, int(seconds * 1000))]

    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        key, token = (service, endpoint), _token()
        window_ms = max(1, int(window_seconds * 1000))
        result = int(self._claim(
            keys=[self._key("alert", key), self._key("suppressed", key), self._index],
            args=[*self._index_args(key, window_seconds), token, window_ms]))
        return None if result < 0 else Claim(endpoint, token, result, service)

    def _add_held(self, key: Key, count: int, duration: float | None, at: float) -> None:
        self._suppress(
            keys=[self._key("suppressed", key), self._key("held", key), self._index],
            args=[*self._index_args(key, 0.0), count,
                  "" if duration is None else repr(duration), repr(at)])

    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        self._add_held((service, endpoint), count, duration, time.time() if at is None else at)

    def release(self, claim: Claim) -> None:
        key = (claim.service, claim.endpoint)
        self._release(keys=[self._key("alert", key), self._key("suppressed", key)],
                      args=[claim.token, claim.suppressed_before + 1, self._keep_ms])

    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        now = time.time()
        for key, (expires_at, token) in windows.items():
            if expires_at > now:
                seconds = expires_at - now
                self._client.set(self._key("alert", key), token, nx=True,
                                 px=max(1, int(seconds * 1000)))
                self._client.zadd(self._index, {self._id(key): now + max(
                    seconds, self.retention.keep_seconds)}, gt=True)
        for key, count in suppressed.items():
            self._add_held(key, count, None, now)
        for record in records:
            self.record(record)

    def _trim(self, record: AlertRecord | None, now: float) -> int:
        """Add ``record`` (if any) and drop what the retention does not keep; how many went."""
        entry: list[Any] = ["", 0, "", 0, 0]
        if record is not None:
            entry = [json.dumps({**record.as_dict(), "id": _token()}), repr(record.at),
                     *self._index_args((record.service, record.endpoint), 0.0)]
        return int(self._record(
            keys=[f"{self._prefix}history", self._index],
            args=[entry[0], entry[1], repr(self.retention.oldest(now)),
                  self.retention.history_count, self._keep_ms, *entry[2:]]))

    def record(self, alert: AlertRecord) -> None:
        self._trim(alert, time.time())

    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        raw = self._client.zrevrangebyscore(f"{self._prefix}history", "+inf",
                                            since if since is not None else "-inf")
        records = [r for r in (_record_from(item) for item in raw
                               if isinstance(item, bytes | str)) if r is not None]
        return _select(records, service, endpoint, since, limit)

    def held(self, service: str | None = None) -> list[HeldBack]:
        keys = [key for key in self._keys() if _matches(key, service)]
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._key("held", key))
        found = []
        for key, values in zip(keys, pipe.execute(), strict=True):
            try:
                count = int(values.get(b"count", 0))
                numbers = [float(values.get(name, 0.0)) for name in (b"max", b"last", b"at")]
            except ValueError:
                continue
            if count > 0:
                found.append(HeldBack(key[0], key[1], count, *numbers))
        return found

    def windows(self, service: str | None = None) -> list[OpenWindow]:
        keys = [key for key in self._keys() if _matches(key, service)]
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(self._key("alert", key))
            pipe.get(self._key("suppressed", key))
        answers, now = pipe.execute(), time.time()
        found = []
        for i, key in enumerate(keys):
            ttl, held = answers[2 * i], answers[2 * i + 1]
            if ttl > 0:
                found.append(OpenWindow(key[0], key[1], now + ttl / 1000,
                                        int(held) if held and held.isdigit() else 0))
        return sorted(found, key=lambda w: w.until)

    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        keys = [key for key in self._keys() if _matches(key, service, endpoint)]
        if not keys:
            return 0
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.delete(self._key("alert", key))
        return sum(pipe.execute())

    def prune(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        self._client.zremrangebyscore(self._index, "-inf", f"({now!r}")
        return self._trim(None, now)

    def close(self) -> None:
        self._client.close()


def open_store(url: str | None, output_dir: str, retention: Retention = Retention()) -> AlertStore:
    """The store named by ``alert_store_url`` (None: a SQLite file in ``output_dir``)."""
    if url is None:
        return SQLiteStore(os.path.join(output_dir, ".wpm-alerts.sqlite3"), retention)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore(retention)
    if scheme == "sqlite":
        return SQLiteStore(url.split("://", 1)[1] or url, retention)
    return RedisStore(url, retention=retention)


def configured_store(config: Config) -> AlertStore:
    """The store a monitor with ``config`` uses, with its retention (``Retention.from_config``);
    ``config`` has its paths resolved (``files.resolve_paths``)."""
    return open_store(config.alert_store_url, config.local_output_dir,
                      Retention.from_config(config))


# One stand-in per configured store and process, shared by its monitors: during an outage,
# threads and monitors of a process still agree on one claim per endpoint.
_stand_ins: weakref.WeakValueDictionary[str, MemoryStore] = weakref.WeakValueDictionary()
_stand_ins_lock = threading.Lock()


def _stand_in(name: str) -> MemoryStore:
    with _stand_ins_lock:
        store = _stand_ins.get(name)
        if store is None:
            store = _stand_ins[name] = MemoryStore()
        return store


class FailoverStore(AlertStore):
    """The configured store, and an in-memory stand-in while it fails; it heals by itself.

    After a failure (counted and logged once through ``report_error``) the stand-in answers
    for ``retry_seconds``, so an outage costs one timeout, not one per alert. Then the
    configured store is tried again; once it answers, it first takes in the stand-in's windows,
    counts and alerts (``merge``), so an endpoint alerted during the outage is not alerted
    again. Reads during an outage answer from the stand-in: ``degraded`` says so.
    """

    retry_seconds = 30.0

    def __init__(self, store: AlertStore, name: str,
                 report_error: Callable[[str, BaseException], None]) -> None:
        self.store = store
        self.stand_in = _stand_in(name)
        self._report_error = report_error
        self._lock = threading.Lock()
        self._down_until: float | None = None  # monotonic time of the next try, while down

    @property
    def degraded(self) -> bool:
        """True while the stand-in answers: what is read covers this process's outage only."""
        with self._lock:
            return self._down_until is not None

    def _run(self, action: Callable[[AlertStore], T]) -> T:
        with self._lock:
            down_until = self._down_until
        if down_until is not None:
            if time.monotonic() < down_until:
                return action(self.stand_in)
            try:
                self.store.merge(*self.stand_in.take_all())
            except Exception as exc:
                return self._fail(exc, action)
            with self._lock:
                self._down_until = None
            logger.info("web_performance_monitor: the alert store answers again")
        try:
            return action(self.store)
        except Exception as exc:
            return self._fail(exc, action)

    def _fail(self, exc: Exception, action: Callable[[AlertStore], T]) -> T:
        self._report_error("using the alert store", exc)
        with self._lock:
            self._down_until = time.monotonic() + self.retry_seconds
        return action(self.stand_in)

    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        return self._run(lambda store: store.claim(endpoint, window_seconds, service=service))

    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        self._run(lambda store: store.suppress(endpoint, count, service=service,
                                               duration=duration, at=at))

    def release(self, claim: Claim) -> None:
        self._run(lambda store: store.release(claim))

    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        self._run(lambda store: store.merge(windows, suppressed, records))

    def record(self, alert: AlertRecord) -> None:
        self._run(lambda store: store.record(alert))

    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        return self._run(lambda store: store.history(service, endpoint, since, limit))

    def held(self, service: str | None = None) -> list[HeldBack]:
        return self._run(lambda store: store.held(service))

    def windows(self, service: str | None = None) -> list[OpenWindow]:
        return self._run(lambda store: store.windows(service))

    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        return self._run(lambda store: store.reset_window(service, endpoint))

    def prune(self, now: float | None = None) -> int:
        return self._run(lambda store: store.prune(now))

    def close(self) -> None:
        self.store.close()
