"""Thread sampler vs an in-thread ``setitimer`` sampler, for requests on the main thread.

A gunicorn sync worker runs each request on its main thread. The issue asked whether a
``signal.setitimer`` sampler (its handler runs in that thread, between bytecodes) samples
CPU-bound code more on time than the sampler thread, which has to win the GIL first. Both
profile the same requests, alternating: a CPU-bound one (recursive calls) and one that
waits (``time.sleep`` in 10 ms steps, like a slow query). Reported: the request's slowdown
against an unprofiled run, the samples taken, the median gap between samples (asked: 5 ms),
and the share of sampled time charged to the function doing the work.

    python bench/sampling.py
"""

from __future__ import annotations

import itertools
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.workloads import fib
from web_performance_monitor.profiling import SamplingProfiler

INTERVAL = 0.005


def cpu_bound() -> None:
    fib(30)


def waits() -> None:
    for _ in range(30):
        time.sleep(0.01)


def _worker_of(stack: list[str]) -> bool:
    return any(name.startswith(("fib\x00", "sleep\x00", "waits\x00")) for name in stack[-2:])


def thread_sampler(work: Callable[[], None]) -> tuple[int, list[float], float]:
    profiler = SamplingProfiler(INTERVAL, trigger=0.0)
    _, run, _, _, _ = profiler.begin()
    work()
    assert run is not None
    result = profiler.end(run, True)
    profiler.close()
    assert result is not None and result.session is not None
    records = result.session.frame_records[1:]  # after the "[not sampled]" head
    gaps = [weight for _, weight in records[:-1]]
    total = sum(weight for _, weight in records) or 1.0
    on_work = sum(weight for stack, weight in records if _worker_of(stack)) / total
    return len(records), gaps, on_work


def itimer_sampler(work: Callable[[], None]) -> tuple[int, list[float], float]:
    stamps: list[tuple[float, list[str]]] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        names = []
        while frame is not None:
            names.append(f"{frame.f_code.co_name}\x00")
            frame = frame.f_back
        stamps.append((time.perf_counter(), names[::-1]))

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, INTERVAL, INTERVAL)
    try:
        work()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(stamps)]
    on_work = sum(1 for _, stack in stamps if _worker_of(stack)) / max(len(stamps), 1)
    return len(stamps), gaps, on_work


def _ms(value: float | None) -> str:
    """A gap in ms, or "-" when too few samples were taken to tell (a quick run)."""
    return "-" if value is None else f"{value:.1f} ms"


def measure(rounds: int = 15) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for label, work in (("cpu-bound", cpu_bound), ("waiting", waits)):
        timings: dict[str, list[float]] = {"none": [], "thread": [], "setitimer": []}
        samples: dict[str, list[int]] = {"thread": [], "setitimer": []}
        gaps: dict[str, list[float]] = {"thread": [], "setitimer": []}
        shares: dict[str, list[float]] = {"thread": [], "setitimer": []}
        for _ in range(rounds):
            for name in timings:
                started = time.perf_counter()
                if name == "none":
                    work()
                else:
                    count, gap, share = (thread_sampler if name == "thread"
                                         else itimer_sampler)(work)
                    samples[name].append(count)
                    gaps[name].extend(gap)
                    shares[name].append(share)
                timings[name].append(time.perf_counter() - started)
        row: dict[str, Any] = {"request_ms": statistics.median(timings["none"]) * 1000}
        for name in ("thread", "setitimer"):
            ratios = [t / p for t, p in zip(timings[name], timings["none"], strict=True)]
            row[name] = {"slowdown": statistics.median(ratios),
                         "samples": statistics.median(samples[name]),
                         "median_gap_ms": statistics.median(gaps[name]) * 1000 if gaps[name]
                         else None,
                         "p90_gap_ms": statistics.quantiles(gaps[name], n=10)[-1] * 1000
                         if len(gaps[name]) > 10 else None,
                         "share_on_work": statistics.median(shares[name])}
            print(f"  {label:<10} {name:<10} request {row['request_ms']:6.1f} ms  "
                  f"x{row[name]['slowdown']:.3f}  samples {row[name]['samples']:5.0f}  "
                  f"gap median {_ms(row[name]['median_gap_ms'])}, "
                  f"p90 {_ms(row[name]['p90_gap_ms'])}  "
                  f"on the working function {row[name]['share_on_work']:.0%}", flush=True)
        results[label] = row
    return results


if __name__ == "__main__":
    print(f"Main-thread requests, sampled every {INTERVAL * 1000:.0f} ms:")
    measure()
