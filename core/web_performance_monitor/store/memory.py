"""Windows and history in this process's memory: for tests, tools and the failover stand-in."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from ..history import AlertRecord, HeldBack, OpenWindow
from .base import (
    DEFAULT_RETENTION,
    AlertStore,
    Claim,
    Key,
    Retention,
    bounded,
    matches,
    new_token,
    select,
)


class MemoryStore(AlertStore):
    """Per-process windows and history; for tests, single-process tools and the stand-in."""

    def __init__(self, retention: Retention = DEFAULT_RETENTION) -> None:
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
            token = new_token()
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
            self._records = bounded(self._records + list(records), self.retention, now)

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
            self._records = bounded([*self._records, alert], self.retention, time.time())

    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        with self._lock:
            return select(self._records, service, endpoint, since, limit)

    def held(self, service: str | None = None) -> list[HeldBack]:
        with self._lock:
            return [h for key, h in self._held.items() if matches(key, service)]

    def windows(self, service: str | None = None) -> list[OpenWindow]:
        now = time.time()
        with self._lock:
            found = [OpenWindow(key[0], key[1], until, self._suppressed.get(key, 0))
                     for key, (until, _) in self._claimed.items()
                     if until > now and matches(key, service)]
        return sorted(found, key=lambda w: w.until)

    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        now = time.time()
        with self._lock:
            doomed = [key for key, (until, _) in self._claimed.items()
                      if until > now and matches(key, service, endpoint)]
            for key in doomed:
                del self._claimed[key]
        return len(doomed)

    def prune(self, now: float | None = None) -> int:
        with self._lock:
            before = len(self._records)
            self._records = bounded(self._records, self.retention,
                                     time.time() if now is None else now)
            return before - len(self._records)
