"""Alert de-duplication: at most one alert per endpoint per window, across threads, processes,
restarts and (with Redis) hosts.

A store answers one question atomically: "may I alert for this endpoint now?" (``claim``). When
the answer is no, the slow request is counted (``suppress``) and the next claim returns that
count, so the next alert can say how many slow requests went unreported. When every notifier
fails, ``release`` gives the window back so that a later slow request can try again.

Stores heal (issue 14). A SQLite file that is not ours (corrupt bytes, another schema, a
trigger planted by another user) is moved aside and recreated, with one warning; a file owned by
another user or a symlink is refused. ``FailoverStore`` answers from a process-wide in-memory
store while the configured one is down, tries it again every ``retry_seconds``, and hands it the
windows taken meanwhile. Nothing is kept forever: Redis keys expire and old SQLite rows are
deleted after ``keep_seconds`` (the longer of the alert window and the report retention).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .files import check_existing, private_file
from .log import logger

T = TypeVar("T")
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Claim:
    endpoint: str
    token: str
    suppressed_before: int  # slow requests not alerted since the previous alert


class AlertStore(ABC):
    """Where alert windows live. Implementations must make ``claim`` atomic."""

    @abstractmethod
    def claim(self, endpoint: str, window_seconds: float) -> Claim | None:
        """Take the window for ``endpoint`` if it is free; None when already taken."""

    @abstractmethod
    def suppress(self, endpoint: str, count: int = 1) -> None:
        """Count ``count`` slow requests that were not alerted (the window was taken)."""

    @abstractmethod
    def release(self, claim: Claim) -> None:
        """Give the window back (all notifiers failed); keeps the suppressed count."""

    @abstractmethod
    def merge(self, windows: dict[str, tuple[float, str]], suppressed: dict[str, int]) -> None:
        """Take in what was decided elsewhere (by the fallback, during an outage).

        ``windows``: endpoint -> (end of the window, epoch seconds; the claim's token), so a
        ``release`` of such a claim still works here. A window already taken here is kept (that
        alert went out too); suppressed counts add up.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free connections; the store may be used again afterwards (it reconnects)."""


def _token() -> str:
    return uuid.uuid4().hex


class MemoryStore(AlertStore):
    """Per-process windows; for tests and single-process tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claimed: dict[str, tuple[float, str]] = {}  # endpoint -> (expires at, token)
        self._suppressed: dict[str, int] = {}

    def claim(self, endpoint: str, window_seconds: float) -> Claim | None:
        now = time.time()
        with self._lock:
            current = self._claimed.get(endpoint)
            if current and now < current[0]:
                return None
            token = _token()
            self._claimed[endpoint] = (now + window_seconds, token)
            return Claim(endpoint, token, self._suppressed.pop(endpoint, 0))

    def suppress(self, endpoint: str, count: int = 1) -> None:
        with self._lock:
            self._suppressed[endpoint] = self._suppressed.get(endpoint, 0) + count

    def release(self, claim: Claim) -> None:
        with self._lock:
            current = self._claimed.get(claim.endpoint)
            if current and current[1] == claim.token:
                del self._claimed[claim.endpoint]
                self._suppressed[claim.endpoint] = (
                    self._suppressed.get(claim.endpoint, 0) + claim.suppressed_before + 1
                )

    def merge(self, windows: dict[str, tuple[float, str]], suppressed: dict[str, int]) -> None:
        now = time.time()
        with self._lock:
            for endpoint, (expires_at, token) in windows.items():
                current = self._claimed.get(endpoint)
                if expires_at > now and not (current and now < current[0]):
                    self._claimed[endpoint] = (expires_at, token)
            for endpoint, count in suppressed.items():
                self._suppressed[endpoint] = self._suppressed.get(endpoint, 0) + count

    def take_all(self) -> tuple[dict[str, tuple[float, str]], dict[str, int]]:
        """Empty the store; its open windows and suppressed counts, for ``merge`` elsewhere."""
        now = time.time()
        with self._lock:
            windows = {e: w for e, w in self._claimed.items() if w[0] > now}
            suppressed = self._suppressed
            self._claimed, self._suppressed = {}, {}
        return windows, suppressed


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


class SQLiteStore(AlertStore):
    """A file shared by every worker process on the host; survives restarts.

    A window ends at the ``expires_at`` its claim set (as a Redis key expires), so changing
    ``alert_window_days`` applies from the next alert on. The claim is a single
    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``: SQLite runs it under one
    write lock, so two processes can never both take the same window.

    The file is ours or it is not used: created 0600 without following a symlink, owned by this
    user, stamped with ``APPLICATION_ID``/``USER_VERSION`` and holding exactly our table.
    Anything else found there is moved aside (``<name>.foreign-<time>``) and replaced.
    """

    APPLICATION_ID = 0x57504D01  # "WPM" 1, in the file's header (PRAGMA application_id)
    USER_VERSION = 1  # the schema below
    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS wpm_alerts (
            endpoint TEXT PRIMARY KEY,
            expires_at REAL NOT NULL,
            token TEXT NOT NULL,
            suppressed INTEGER NOT NULL DEFAULT 0,
            reported INTEGER NOT NULL DEFAULT 0
        )"""
    _COLUMNS = [  # PRAGMA table_info: (name, type, not null, default, primary key)
        ("endpoint", "TEXT", 0, None, 1), ("expires_at", "REAL", 1, None, 0),
        ("token", "TEXT", 1, None, 0), ("suppressed", "INTEGER", 1, "0", 0),
        ("reported", "INTEGER", 1, "0", 0)]
    _CLAIM = """
        INSERT INTO wpm_alerts (endpoint, expires_at, token, suppressed, reported)
        VALUES (:endpoint, :now + :window, :token, 0, 0)
        ON CONFLICT (endpoint) DO UPDATE SET
            expires_at = excluded.expires_at, token = excluded.token,
            reported = wpm_alerts.suppressed, suppressed = 0
        WHERE wpm_alerts.expires_at <= :now
        RETURNING token, reported"""
    _MERGE = """
        INSERT INTO wpm_alerts (endpoint, expires_at, token, suppressed, reported)
        VALUES (:endpoint, :expires_at, :token, :suppressed, 0)
        ON CONFLICT (endpoint) DO UPDATE SET
            token = CASE WHEN wpm_alerts.expires_at <= :now THEN excluded.token
                         ELSE wpm_alerts.token END,
            expires_at = CASE WHEN wpm_alerts.expires_at <= :now THEN excluded.expires_at
                              ELSE wpm_alerts.expires_at END,
            suppressed = wpm_alerts.suppressed + excluded.suppressed"""
    # A row's ``expires_at`` is when its window ended (or was released, or its count merged):
    # after ``keep_seconds`` more, neither its window nor its count matters any more.
    _PURGE = "DELETE FROM wpm_alerts WHERE expires_at < :before"
    PURGE_EVERY = 3600.0  # seconds between deletions of long-expired rows
    busy_timeout = 10.0  # seconds a statement waits for another process's write lock

    def __init__(self, path: str, keep_seconds: float = 30 * DAY) -> None:
        self.path = os.path.abspath(path)  # resolved once: a later chdir moves nothing
        self.keep_seconds = keep_seconds
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
            conn.execute(self._PURGE, {"before": time.time() - self.keep_seconds})

    def _check_schema(self, conn: sqlite3.Connection, *, stamp: bool) -> None:
        """Accept our file (or an unstamped one with exactly our table); ``stamp`` a new one.

        Raises ``_Foreign`` for anything else: another schema, an extra trigger, view or table.
        """
        (app_id,) = conn.execute("PRAGMA application_id").fetchone()
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
        if not objects and app_id == 0:
            if stamp:
                conn.execute(self._SCHEMA)
        else:
            if app_id not in (0, self.APPLICATION_ID) or (app_id and version != self.USER_VERSION):
                raise _Foreign(f"application id {app_id}, version {version}")
            expected = [("index", "sqlite_autoindex_wpm_alerts_1"), ("table", "wpm_alerts")]
            if sorted(objects) != expected:
                raise _Foreign("unexpected objects: " + ", ".join(
                    f"{kind} {name}" for kind, name in sorted(objects) if (kind, name)
                    not in expected))
            columns = [tuple(row[1:]) for row in conn.execute("PRAGMA table_info(wpm_alerts)")]
            if columns != self._COLUMNS:
                raise _Foreign("another wpm_alerts table")
            if app_id:
                return
        if stamp:
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

    def _execute(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.DatabaseError:
                self._drop()  # reconnect (and re-check the file) next time
                raise

    def _purge(self, now: float) -> None:
        """Delete rows whose window ended more than ``keep_seconds`` ago (hourly)."""
        if now >= self._purge_at:
            self._purge_at = now + self.PURGE_EVERY
            self._execute(self._PURGE, {"before": now - self.keep_seconds})

    def claim(self, endpoint: str, window_seconds: float) -> Claim | None:
        self._purge(time.time())
        token = _token()
        rows = self._execute(self._CLAIM, {"endpoint": endpoint, "now": time.time(),
                                           "token": token, "window": window_seconds})
        if not rows or rows[0][0] != token:
            return None
        return Claim(endpoint, token, int(rows[0][1]))

    def suppress(self, endpoint: str, count: int = 1) -> None:
        # An upsert: the endpoint may have no row yet (its claim went to the fallback store
        # during an outage), where a bare UPDATE would match nothing and lose the count. The
        # new row's window has already ended, so the next claim takes it and reports the count.
        self._execute(
            "INSERT INTO wpm_alerts (endpoint, expires_at, token, suppressed, reported) "
            "VALUES (:e, :now, '', :n, 0) "
            "ON CONFLICT (endpoint) DO UPDATE SET suppressed = wpm_alerts.suppressed + :n",
            {"e": endpoint, "now": time.time(), "n": count})

    def release(self, claim: Claim) -> None:
        self._execute(
            # The window ends now (not at 0): the row's retention counts from its last change.
            "UPDATE wpm_alerts SET expires_at = :now, suppressed = suppressed + reported + 1, "
            "reported = 0 WHERE endpoint = :e AND token = :t",
            {"e": claim.endpoint, "t": claim.token, "now": time.time()},
        )

    def merge(self, windows: dict[str, tuple[float, str]], suppressed: dict[str, int]) -> None:
        now = time.time()
        rows = [{"endpoint": endpoint, "expires_at": expires_at, "token": token,
                 "suppressed": suppressed.get(endpoint, 0), "now": now}
                for endpoint, (expires_at, token) in windows.items()]
        rows += [{"endpoint": endpoint, "expires_at": now, "token": "", "suppressed": count,
                  "now": now} for endpoint, count in suppressed.items() if endpoint not in windows]
        with self._lock:
            try:
                conn = self._connection()
                with _immediate(conn):
                    conn.executemany(self._MERGE, rows)
            except sqlite3.DatabaseError:
                self._drop()
                raise

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()


class RedisStore(AlertStore):
    """Windows in Redis (``SET NX PX``), for applications served from several hosts.

    Every key expires: a window with its claim, a suppressed count ``keep_seconds`` after it
    last changed.
    """

    _CLAIM = """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
            local n = tonumber(redis.call('GET', KEYS[2]) or '0')
            redis.call('DEL', KEYS[2])
            return n
        end
        return -1"""
    _RELEASE = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('DEL', KEYS[1])
            redis.call('INCRBY', KEYS[2], ARGV[2])
            redis.call('PEXPIRE', KEYS[2], ARGV[3])
        end
        return 0"""

    def __init__(self, url: str, prefix: str = "wpm:", keep_seconds: float = 30 * DAY) -> None:
        import redis  # the [redis] extra

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix
        self._keep_ms = max(1, int(keep_seconds * 1000))
        self._claim = self._client.register_script(self._CLAIM)
        self._release = self._client.register_script(self._RELEASE)

    def _keys(self, endpoint: str) -> list[str]:
        return [f"{self._prefix}alert:{endpoint}", f"{self._prefix}suppressed:{endpoint}"]

    def claim(self, endpoint: str, window_seconds: float) -> Claim | None:
        token = _token()
        window_ms = max(1, int(window_seconds * 1000))
        result = int(self._claim(keys=self._keys(endpoint), args=[token, window_ms]))
        return None if result < 0 else Claim(endpoint, token, result)

    def suppress(self, endpoint: str, count: int = 1) -> None:
        key = self._keys(endpoint)[1]
        pipe = self._client.pipeline()
        pipe.incrby(key, count)
        pipe.pexpire(key, self._keep_ms)
        pipe.execute()

    def release(self, claim: Claim) -> None:
        self._release(keys=self._keys(claim.endpoint),
                      args=[claim.token, claim.suppressed_before + 1, self._keep_ms])

    def merge(self, windows: dict[str, tuple[float, str]], suppressed: dict[str, int]) -> None:
        now = time.time()
        pipe = self._client.pipeline()
        for endpoint, (expires_at, token) in windows.items():
            if expires_at > now:
                pipe.set(self._keys(endpoint)[0], token, nx=True,
                         px=max(1, int((expires_at - now) * 1000)))
        for endpoint, count in suppressed.items():
            key = self._keys(endpoint)[1]
            pipe.incrby(key, count)
            pipe.pexpire(key, self._keep_ms)
        pipe.execute()

    def close(self) -> None:
        self._client.close()


def open_store(url: str | None, output_dir: str, keep_seconds: float = 30 * DAY) -> AlertStore:
    """The store named by ``alert_store_url`` (None: a SQLite file in ``output_dir``).

    ``keep_seconds``: how long a stored count may outlive its window (retention).
    """
    if url is None:
        return SQLiteStore(os.path.join(output_dir, ".wpm-alerts.sqlite3"), keep_seconds)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        return SQLiteStore(url.split("://", 1)[1] or url, keep_seconds)
    return RedisStore(url, keep_seconds=keep_seconds)


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
    configured store is tried again; once it answers, it first takes in the stand-in's windows
    and counts (``merge``), so an endpoint alerted during the outage is not alerted again.
    """

    retry_seconds = 30.0

    def __init__(self, store: AlertStore, name: str,
                 report_error: Callable[[str, BaseException], None]) -> None:
        self.store = store
        self.stand_in = _stand_in(name)
        self._report_error = report_error
        self._lock = threading.Lock()
        self._down_until: float | None = None  # monotonic time of the next try, while down

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

    def claim(self, endpoint: str, window_seconds: float) -> Claim | None:
        return self._run(lambda store: store.claim(endpoint, window_seconds))

    def suppress(self, endpoint: str, count: int = 1) -> None:
        self._run(lambda store: store.suppress(endpoint, count))

    def release(self, claim: Claim) -> None:
        self._run(lambda store: store.release(claim))

    def merge(self, windows: dict[str, tuple[float, str]], suppressed: dict[str, int]) -> None:
        self._run(lambda store: store.merge(windows, suppressed))

    def close(self) -> None:
        self.store.close()
