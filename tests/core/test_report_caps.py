"""Both engines keep a report bounded: stack depth, samples, frames in all."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from tests.conftest import RecordingNotifier, busy, functions_in
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.profiling import base


def dive(depth: int) -> int:
    if depth == 0:
        busy(0.4)
        return 0
    return dive(depth - 1) + 1


@pytest.fixture(params=["sampler", "pyinstrument"])
def engine_monitor(request: pytest.FixtureRequest, make_monitor: Callable[..., PerformanceMonitor],
                   recorder: RecordingNotifier) -> PerformanceMonitor:
    monitor = make_monitor(profiler=request.param)
    monitor.add_notifier(recorder)
    return monitor


def test_a_deep_request_gives_a_bounded_report(engine_monitor: PerformanceMonitor,
                                               recorder: RecordingNotifier) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5_000)
    try:
        assert engine_monitor.create_decorator(name="deep")(dive)(3_000) == 3_000
    finally:
        sys.setrecursionlimit(limit)
    engine_monitor.flush()
    [alert] = recorder.alerts
    profile = alert.event.profile
    assert profile is not None and profile.session is not None
    records = profile.session.frame_records
    assert max(len(stack) for stack, _ in records) <= base.MAX_DEPTH + 1
    assert len(records) <= base.MAX_SAMPLES
    assert {"[deep stack truncated]", "dive", "busy"} <= functions_in(alert)
    assert len(alert.html) < 5_000_000


def test_samples_are_merged_past_the_cap_and_time_adds_up() -> None:
    records = [([f"f{i}\x00m.py\x001"], 0.001) for i in range(1000)]
    kept = base.bounded(records, max_samples=100)
    assert len(kept) <= 100
    assert sum(seconds for _, seconds in kept) == pytest.approx(1.0)


def test_frames_in_all_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_FRAMES", 1_000)
    records = [([f"f{i}\x00m.py\x001"] * 100, 0.01) for i in range(100)]
    kept = base.bounded(records)
    assert sum(len(stack) for stack, _ in kept) <= 1_000
    assert sum(seconds for _, seconds in kept) == pytest.approx(1.0)
