"""Alert de-duplication: at most one alert per endpoint per window, across threads, processes,
restarts and (with Redis) hosts.

A store answers one question atomically: "may I alert for this endpoint now?" (``claim``). When
the answer is no, the slow request is counted (``suppress``) and the next claim returns that
count, so the next alert can say how many slow requests went unreported. When every notifier
fails, ``release`` gives the window back so that a later slow request can try again.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


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


class SQLiteStore(AlertStore):
    """A file shared by every worker process on the host; survives restarts.

    A window ends at the ``expires_at`` its claim set (as a Redis key expires), so changing
    ``alert_window_days`` applies from the next alert on. The claim is a single
    ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``: SQLite runs it under one
    write lock, so two processes can never both take the same window.
    """

    _SCHEMA = """
        CREATE TABLE IF NOT EXISTS wpm_alerts (
            endpoint TEXT PRIMARY KEY,
            expires_at REAL NOT NULL,
            token TEXT NOT NULL,
            suppressed INTEGER NOT NULL DEFAULT 0,
            reported INTEGER NOT NULL DEFAULT 0
        )"""
    _CLAIM = """
        INSERT INTO wpm_alerts (endpoint, expires_at, token, suppressed, reported)
        VALUES (:endpoint, :now + :window, :token, 0, 0)
        ON CONFLICT (endpoint) DO UPDATE SET
            expires_at = excluded.expires_at, token = excluded.token,
            reported = wpm_alerts.suppressed, suppressed = 0
        WHERE wpm_alerts.expires_at <= :now
        RETURNING token, reported"""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never share a connection over fork
            directory = os.path.dirname(self.path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None,
                                   check_same_thread=False)
            try:
                self._initialise(conn)
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        # Workers starting together race to switch a new file to WAL; SQLite answers "database
        # is locked" there without waiting for busy_timeout, so the set-up is retried.
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(self._SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.01 + random.random() * 0.05)

    def _execute(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def claim(self, endpoint: str, window_seconds: float) -> Claim | None:
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
            "UPDATE wpm_alerts SET expires_at = 0, suppressed = suppressed + reported + 1, "
            "reported = 0 WHERE endpoint = :e AND token = :t",
            {"e": claim.endpoint, "t": claim.token},
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class RedisStore(AlertStore):
    """Windows in Redis (``SET NX PX``), for applications served from several hosts."""

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
        end
        return 0"""

    def __init__(self, url: str, prefix: str = "wpm:") -> None:
        import redis  # the [redis] extra

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix
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
        self._client.incrby(self._keys(endpoint)[1], count)

    def release(self, claim: Claim) -> None:
        self._release(keys=self._keys(claim.endpoint),
                      args=[claim.token, claim.suppressed_before + 1])

    def close(self) -> None:
        self._client.close()


def open_store(url: str | None, output_dir: str) -> AlertStore:
    """The store named by ``alert_store_url`` (None: a SQLite file in ``output_dir``)."""
    if url is None:
        return SQLiteStore(os.path.join(output_dir, ".wpm-alerts.sqlite3"))
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        return SQLiteStore(url.split("://", 1)[1] or url)
    return RedisStore(url)
