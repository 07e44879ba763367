"""The overhead backoff: when the monitor costs more than ``max_performance_overhead``, back off.

First the sampling interval doubles (up to 8x), then only one request in 2, 4, 8... is
profiled (all are still timed and counted). When the overhead falls below half the limit, it
steps back. Every change is logged, so an operator sees why a report has fewer samples.

Two checks feed it: the monitor's, every 1,000 requests (in-request time plus the sampler
thread's, over the wall clock), and the sampler thread's own, every second (``step_up``): its
cost grows with threads x stack depth and can pass the limit long before 1,000 requests end.
"""

from __future__ import annotations

from .profiling import Profiler

MAX_LEVEL = 6


class OverheadBackoff:
    def __init__(self) -> None:
        self.level = 0

    @property
    def every(self) -> int:
        """Profile one request in ``every`` (the profiler applies it): 1, then 2, 4, 8."""
        return int(2 ** max(self.level - 3, 0))

    def adjust(self, overhead: float, limit: float, profiler: Profiler) -> str | None:
        """Move one level up or down; returns what changed, for the log, or None."""
        if overhead > limit and self.level < MAX_LEVEL:
            self.level += 1
        elif overhead < limit / 2 and self.level > 0:
            self.level -= 1
        else:
            return None
        factor = 2 ** min(self.level, 3)
        profiler.every = self.every
        profiler.interval = profiler.base_interval * factor
        return (f"the monitor took {overhead:.1%} of the process's time, against "
                f"max_performance_overhead {limit:.1%}: "
                f"backoff level {self.level} (sampling every {profiler.interval * 1000:.0f} ms, "
                f"profiling 1 request in {self.every})")

    def step_up(self, share: float, limit: float, profiler: Profiler) -> str | None:
        """The sampler thread's check (its busy share of the last second): only backs off.

        Stepping back is left to ``adjust``, which sees the monitor's whole cost.
        """
        return self.adjust(share, limit, profiler) if share > limit else None
