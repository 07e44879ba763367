"""Counters for ``get_stats()``: thread-safe, and bounded however long the process runs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

MAX_ENDPOINTS = 500
OTHER_ENDPOINTS = "<other endpoints>"
CHECK_EVERY = 1000  # requests per overhead window (the "recent" figures)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.slow = 0
            self.alerts_sent = 0
            self.alerts_suppressed = 0
            self.alerts_failed = 0
            self.notifier_failures: dict[str, int] = {}
            self._request_time = 0.0
            self._monitor_time = 0.0
            # The last complete window of CHECK_EVERY requests: (request time, monitor time).
            self._window: tuple[float, float] | None = None
            self._mark = (0.0, 0.0)
            self._endpoints: OrderedDict[str, list[float]] = OrderedDict()

    def record(self, endpoint: str, duration: float, slow: bool, overhead: float) -> bool:
        """One finished request or call; ``overhead`` is the time spent inside the monitor.

        Returns True every ``CHECK_EVERY`` requests, when the caller should look at overhead.
        """
        with self._lock:
            self.total += 1
            if slow:
                self.slow += 1
            self._request_time += duration
            self._monitor_time += overhead
            entry = self._endpoints.get(endpoint)
            if entry is None:
                if len(self._endpoints) >= MAX_ENDPOINTS:
                    endpoint = OTHER_ENDPOINTS
                entry = self._endpoints.setdefault(endpoint, [0, 0, 0.0, 0.0])
            entry[0] += 1
            if slow:
                entry[1] += 1
            entry[2] += duration
            if duration > entry[3]:
                entry[3] = duration
            if self.total % CHECK_EVERY:
                return False
            mark, self._mark = self._mark, (self._request_time, self._monitor_time)
            self._window = (self._request_time - mark[0], self._monitor_time - mark[1])
            return True

    def count(self, name: str) -> None:
        """Add one to a counter: alerts_sent, alerts_suppressed or alerts_failed."""
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def notifier_failed(self, notifier: str) -> None:
        with self._lock:
            self.notifier_failures[notifier] = self.notifier_failures.get(notifier, 0) + 1

    def overhead(self) -> dict[str, float]:
        with self._lock:
            recent_request, recent_monitor = self._window or (self._request_time,
                                                              self._monitor_time)
            return {
                "average_overhead": self._monitor_time / self._request_time
                if self._request_time else 0.0,
                "recent_overhead": recent_monitor / recent_request if recent_request else 0.0,
                "recent_request_seconds": recent_request,
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
