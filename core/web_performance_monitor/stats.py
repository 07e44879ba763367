"""Counters for ``get_stats()``: thread-safe, and bounded however long the process runs.

A request appends its duration to its endpoint's deque and the monitor's own time to one
shared deque (C-level appends: atomic, no lock, no string building). The counters are folded
from them in batches, by the request that fills a batch or by whoever reads the statistics,
with C-level sums: grouping requests by endpoint afterwards (sorting a batch) cost more per
request than everything else the monitor does for it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from itertools import repeat
from typing import Any, Literal

MAX_ENDPOINTS = 500
OTHER_ENDPOINTS = "<other endpoints>"
_OTHER_KEY: EndpointKey = ("other", "", OTHER_ENDPOINTS)
CHECK_EVERY = 1000  # requests per fold, and per overhead window (the "recent" figures)

# What was timed: a web request, a decorated function, or the overflow bucket of the statistics.
Kind = Literal["request", "function", "other"]
# (kind, method, route or path): how a request finds its endpoint's deque of durations.
EndpointKey = tuple[Kind, str, str]


def endpoint_name(kind: Kind, method: str, where: str) -> str:
    """How an endpoint is named in statistics, alerts and the de-duplication store."""
    return where if kind in ("function", "other") else f"{method} {where}"


def _drain(queue: deque[float]) -> list[float]:
    """Exactly the items there now (others may append meanwhile), popped in C."""
    return list(map(deque.popleft, repeat(queue, len(queue))))


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Read by the monitor on every request: cleared in place, never replaced.
        self.durations: dict[EndpointKey, deque[float]] = {}
        self.overheads: deque[float] = deque()  # seconds in the monitor, one per request
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.durations.clear()
            self.overheads.clear()
            self.total = 0
            self.slow = 0
            self.alerts_sent = 0
            self.alerts_suppressed = 0  # de-duplication: the endpoint's window was taken
            self.alerts_rate_limited = 0  # new alerts held back by max_alerts_per_minute
            self.alerts_failed = 0
            self.notifier_failures: dict[str, int] = {}
            self._request_time = 0.0
            self._monitor_time = 0.0
            # The last batch of at least CHECK_EVERY requests: (request time, monitor time,
            # wall-clock time it spanned).
            self._window: tuple[float, float, float] | None = None
            self._window_started = time.monotonic()
            # endpoint name -> [requests, slow requests, total seconds, max seconds]
            self._endpoints: dict[str, list[float]] = {}

    def queue(self, key: EndpointKey) -> deque[float]:
        """The deque an endpoint's durations go to, made on its first request.

        Past ``MAX_ENDPOINTS`` (raw paths of an app without route templates, a scan), new
        endpoints share one deque, so memory stays bounded.
        """
        with self._lock:
            queue = self.durations.get(key)
            if queue is None:
                if len(self.durations) >= MAX_ENDPOINTS:
                    key = _OTHER_KEY
                queue = self.durations.setdefault(key, deque())
            return queue

    def count_slow(self, key: EndpointKey) -> None:
        """A slow request (rare: counted under the lock, on its own), under the endpoint its
        duration goes to."""
        with self._lock:
            self.slow += 1
            if key not in self.durations and len(self.durations) >= MAX_ENDPOINTS:
                key = _OTHER_KEY
            self._entry(key)[1] += 1

    def _entry(self, key: EndpointKey) -> list[float]:
        """The counters of an endpoint (as many as deques of durations: bounded the same)."""
        name = endpoint_name(*key)
        entry = self._endpoints.get(name)
        if entry is None:
            entry = self._endpoints[name] = [0, 0, 0.0, 0.0]
        return entry

    def fold(self) -> bool:
        """Move what requests recorded into the counters; True when an overhead window closed."""
        with self._lock:
            monitor_time = sum(_drain(self.overheads))
            count = 0
            request_time = 0.0
            for key, queue in list(self.durations.items()):
                if not queue:
                    continue
                durations = _drain(queue)
                seconds = sum(durations)
                entry = self._entry(key)
                entry[0] += len(durations)
                entry[2] += seconds
                entry[3] = max(entry[3], max(durations))
                count += len(durations)
                request_time += seconds
            if not count:
                return False
            self.total += count
            self._request_time += request_time
            self._monitor_time += monitor_time
            if count < CHECK_EVERY:
                return False
            now = time.monotonic()
            self._window = (request_time, monitor_time, now - self._window_started)
            self._window_started = now
            return True

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a counter: alerts_sent, alerts_suppressed, alerts_rate_limited or
        alerts_failed."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

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
                "alerts_rate_limited": self.alerts_rate_limited,
                "alerts_failed": self.alerts_failed,
                "notifier_failures": dict(self.notifier_failures),
                "overhead_stats": overhead,
                "endpoints": endpoints,
            }
