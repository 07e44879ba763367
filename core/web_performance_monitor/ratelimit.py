"""A token bucket for the background worker: how many new alerts a minute a storm may produce.

The cap is ``Config.max_alerts_per_minute``. It is taken only by alerts that passed
de-duplication, so repeats of one endpoint (suppressed anyway) never use up another endpoint's
place.
"""

from __future__ import annotations

import time


class RateLimit:
    """A token bucket: at most ``count`` takes per ``period`` seconds (background thread only)."""

    def __init__(self, count: int, period: float) -> None:
        self.count = count
        self.period = period
        self._tokens = float(count)
        self._last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.count, self._tokens + (now - self._last) * self.count / self.period)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
