"""The sampler thread under load and faults: one per process, supervised, never silent."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import FAULT_COUNTS, FAULTS, busy, profile_of
from tests.core.test_faults import assert_untouched
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.profiling import ProfileResult
from web_performance_monitor.profiling import sampler as sampler_module


def sampler_threads() -> list[threading.Thread]:
    """The sampler threads alive, once those that already decided to end have ended."""
    for thread in threading.enumerate():
        if thread.name == "wpm-sampler" and thread is not sampler_module._thread:
            thread.join(5)
    return [t for t in threading.enumerate() if t.name == "wpm-sampler"]


def slow_work() -> None:
    busy(0.02)
    garbage = [[i] for i in range(2000)]  # allocations: with threshold 1, collections galore
    del garbage
    threading.Event().wait(0.06)




@pytest.fixture
def gc_storm() -> Iterator[None]:
    """A collection at nearly every allocation: finalisers run in whatever thread allocates."""
    before = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("gc_storm")
def test_64_request_threads_and_frequent_gc_every_request_is_sampled(
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    # Sampling 64 threads costs the sampler thread more than 5% of a loaded machine: the
    # overhead backoff (tested on its own) must not skip the requests this test looks at.
    monitor = make_monitor(max_performance_overhead=1.0)
    results: list[ProfileResult] = []
    lock = threading.Lock()

    def request_thread() -> None:
        for _ in range(3):
            result = profile_of(monitor, slow_work)
            with lock:
                results.append(result)

    threads = [threading.Thread(target=request_thread) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 192
    # 64 threads share one GIL: a wake-up may come late for a few requests, but the thread
    # never dies, so requests are sampled throughout and the one after the storm is too.
    assert sum(r.note is None for r in results) > 0
    assert monitor.get_stats()["internal_errors"] == {}
    assert [t.is_alive() for t in sampler_threads()] == [True]
    assert profile_of(monitor, lambda: busy(0.15)).note is None


def test_a_failing_tick_is_logged_once_counted_and_sampling_goes_on(
        monitor: PerformanceMonitor, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    real_tick = sampler_module.SamplingProfiler._tick
    failures = 3

    def flaky_tick(self: sampler_module.SamplingProfiler) -> float:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("dictionary changed size during iteration")
        return real_tick(self)

    monkeypatch.setattr(sampler_module.SamplingProfiler, "_tick", flaky_tick)
    result = profile_of(monitor, lambda: busy(0.15))
    assert result.session is not None and result.note is None  # the thread carried on
    assert monitor.get_stats()["internal_errors"] == {"sampling running requests": 3}
    logged = [r for r in caplog.records if "sampling running requests" in r.getMessage()]
    assert len(logged) == 1


def test_a_sampler_thread_that_died_is_replaced_by_the_next_request(
        monitor: PerformanceMonitor, monkeypatch: pytest.MonkeyPatch) -> None:
    real_tick = sampler_module.SamplingProfiler._tick
    died = threading.Event()

    def fatal_tick(self: sampler_module.SamplingProfiler) -> float:
        monkeypatch.setattr(sampler_module.SamplingProfiler, "_tick", real_tick)
        died.set()
        raise SystemExit  # not an Exception: it ends the thread's loop

    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # as for any SystemExit
    monkeypatch.setattr(sampler_module.SamplingProfiler, "_tick", fatal_tick)
    span = monitor.begin()
    assert died.wait(5)
    for thread in sampler_threads():
        thread.join(5)
    busy(0.05)
    first = monitor._stop_profile(span[1], keep=True)
    assert first is not None and "before the sampler's trigger" in (first.note or "")
    second = profile_of(monitor, lambda: busy(0.15))
    assert second.note is None


def test_one_sampler_thread_serves_every_monitor(
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monitors = [make_monitor() for _ in range(5)]
    results = [profile_of(m, lambda: busy(0.08)) for m in monitors]
    assert all(r.session is not None for r in results)
    assert len(sampler_threads()) == 1


@pytest.mark.parametrize("name", sorted(FAULT_COUNTS))
def test_thread_faults_leave_responses_unchanged_and_are_counted(
        make_monitor: Callable[..., PerformanceMonitor], monkeypatch: pytest.MonkeyPatch,
        name: str) -> None:
    target, replacement = FAULTS[name]
    monkeypatch.setattr(target, replacement)
    monitor = make_monitor()
    assert_untouched(monitor)
    assert_untouched(monitor, "/y")
    monitor.flush(5)
    assert monitor.get_stats()["internal_errors"][FAULT_COUNTS[name]] >= 1


def dive(depth: int, seconds: float) -> None:
    if depth:
        dive(depth - 1, seconds)
    else:
        threading.Event().wait(seconds)  # waiting, as a request on a slow backend does


def test_the_sampler_backs_off_from_its_own_cost_between_request_checks(
        make_monitor: Callable[..., PerformanceMonitor], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Issue 14, smaller: 192 requests of 2 s, 64 at a time, 300 frames deep kept the sampler
    busy half the wall clock, and the guard (every 1,000 requests) never looked."""
    monkeypatch.setattr(sampler_module, "BUSY_WINDOW", 0.3)
    monitor = make_monitor(profiler_interval=0.001, max_performance_overhead=0.05,
                           threshold_seconds=10)
    threads = [threading.Thread(target=profile_of, args=(monitor, lambda: dive(250, 1.5)))
               for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    overhead = monitor.get_stats()["overhead_stats"]
    assert overhead["backoff_level"] > 0
    assert overhead["profiler_interval"] > 0.001
    assert monitor.get_stats()["total_requests"] < 1000  # the request-count check never ran
    assert "backoff level 1" in caplog.text


def work_after_idle() -> None:
    busy(0.15)


def test_an_idle_process_sleeps_and_the_next_long_request_is_sampled_from_its_trigger(
        make_monitor: Callable[..., PerformanceMonitor], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: no wake-ups while nothing runs (0.17% of a core before), and the first long
    request after the idle spell is still sampled from its trigger on."""
    monkeypatch.setattr(sampler_module, "ACTIVE_SECONDS", 0.05)
    monitor = make_monitor()
    profile_of(monitor, lambda: None)  # the sampler thread starts
    deadline = threading.Event()
    for _ in range(100):
        if sampler_module._asleep:
            break
        deadline.wait(0.01)
    assert sampler_module._asleep
    result = profile_of(monitor, work_after_idle)
    assert result.session is not None
    records = result.session.frame_records
    not_sampled = sum(seconds for stack, seconds in records if stack[0].startswith("[not sampled"))
    assert not_sampled < 0.1  # the trigger is 10 ms: the thread woke when the request began
    assert any(frame.startswith("work_after_idle\x00") for stack, _ in records for frame in stack)
