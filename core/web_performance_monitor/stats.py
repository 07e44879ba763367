"""Counters for ``get_stats()``: thread-safe, and bounded however long the process runs.

A request only appends one tuple to a deque (atomic, no lock, no string building): the
counters are folded from it in batches, by the request that fills a batch or by whoever reads
the statistics. That keeps the per-request cost at a C-level append.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from itertools import groupby, repeat
from operator import itemgetter
from typing import Any

MAX_ENDPOINTS = 500
OTHER_ENDPOINTS = "<other endpoints>"
CHECK_EVERY = 1000  # requests per fold, and per overhead window (the "recent" figures)

# (kind, method, route or path, duration, slow, seconds spent in the monitor)
Entry = tuple[str, str, str, float, bool, float]
_WHERE = itemgetter(0, 1, 2)
_DURATION, _SLOW, _OVERHEAD = itemgetter(3), itemgetter(4), itemgetter(5)


def endpoint_name(kind: str, method: str, where: str) -> str:
    """How an endpoint is named in statistics, alerts and the de-duplication store."""
    return where if kind == "function" else f"{method} {where}"


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pending: deque[Entry] = deque()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.pending.clear()
            self.total = 0
            self.slow = 0
            self.alerts_sent = 0
            self.alerts_suppressed = 0
            self.alerts_failed = 0
            self.notifier_failures: dict[str, int] = {}
            self._request_time = 0.0
            self._monitor_time = 0.0
            # The last batch of at least CHECK_EVERY requests: (request time, monitor time,
            # wall-clock time it spanned).
            self._window: tuple[float, float, float] | None = None
            self._window_started = time.monotonic()
            self._endpoints: dict[str, list[float]] = {}

    def fold(self) -> bool:
        """Move pending entries into the counters; True when a full overhead window completed.

        Sorting and grouping the batch keeps the per-entry work in C (a few hundred ns per
        request otherwise, which is most of a trivial request's budget).
        """
        with self._lock:
            pending = self.pending
            # Exactly the entries there now (others may append meanwhile), popped in C.
            batch = list(map(deque.popleft, repeat(pending, len(pending))))
            if not batch:
                return False
            request_time = sum(map(_DURATION, batch))
            monitor_time = sum(map(_OVERHEAD, batch))
            self.total += len(batch)
            self.slow += sum(map(_SLOW, batch))
            self._request_time += request_time
            self._monitor_time += monitor_time
            batch.sort(key=_WHERE)
            endpoints = self._endpoints
            for (kind, method, where), entries in groupby(batch, _WHERE):
                group = list(entries)
                name = endpoint_name(kind, method, where)
                entry = endpoints.get(name)
                if entry is None:
                    if len(endpoints) >= MAX_ENDPOINTS:
                        name = OTHER_ENDPOINTS
                    entry = endpoints.setdefault(name, [0, 0, 0.0, 0.0])
                durations = list(map(_DURATION, group))
                entry[0] += len(group)
                entry[1] += sum(map(_SLOW, group))
                entry[2] += sum(durations)
                entry[3] = max(entry[3], *durations)
            if len(batch) < CHECK_EVERY:
                return False
            now = time.monotonic()
            self._window = (request_time, monitor_time, now - self._window_started)
            self._window_started = now
            return True

    def count(self, name: str) -> None:
        """Add one to a counter: alerts_sent, alerts_suppressed or alerts_failed."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def notifier_failed(self, notifier: str) -> None:
        with self._lock:
            self.notifier_failures[notifier] = self.notifier_failures.get(notifier, 0) + 1

    def overhead(self) -> dict[str, float]:
        self.fold()
        with self._lock:
            recent_request, recent_monitor, recent_wall = self._window or (
                self._request_time, self._monitor_time, time.monotonic() - self._window_started)
            return {
                "average_overhead": self._monitor_time / self._request_time
                if self._request_time else 0.0,
                "recent_overhead": recent_monitor / recent_request if recent_request else 0.0,
                "recent_request_seconds": recent_request,
                "recent_monitor_seconds": recent_monitor,
                "recent_wall_seconds": recent_wall,
                "average_monitor_seconds_per_request": self._monitor_time / self.total
                if self.total else 0.0,
                "samples": float(self.total),
            }

    def snapshot(self) -> dict[str, Any]:
        overhead = self.overhead()
        with self._lock:
            endpoints = {
                name: {"requests": int(c), "slow_requests": int(s),
                       "average_seconds": total / c if c else 0.0, "max_seconds": peak}
                for name, (c, s, total, peak) in self._endpoints.items()
            }
            return {
                "total_requests": self.total,
                "slow_requests": self.slow,
                "slow_request_rate": 100.0 * self.slow / self.total if self.total else 0.0,
                "alerts_sent": self.alerts_sent,
                "alerts_suppressed": self.alerts_suppressed,
                "alerts_failed": self.alerts_failed,
                "notifier_failures": dict(self.notifier_failures),
                "overhead_stats": overhead,
                "endpoints": endpoints,
            }
