"""The sampling engine: what a report shows, for threads and tasks, bounded in size."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from tests.conftest import RecordingNotifier, busy, functions_in, profile_of
from tests.servers import ROOT, subprocess_env
from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.profiling import ProfileResult
from web_performance_monitor.profiling import sampler as sampler_module


def busy_alpha() -> None:
    busy(0.08)


def busy_beta() -> None:
    busy(0.08)




def test_report_names_the_functions_and_labels_the_unsampled_head(
        monitor: PerformanceMonitor) -> None:
    result = profile_of(monitor, busy_alpha)
    text = result.render_text() or ""
    assert "busy_alpha" in text and "busy" in text
    assert "[not sampled: before trigger]" in text
    assert result.session is not None
    total = sum(seconds for _, seconds in result.session.frame_records)
    assert total == pytest.approx(result.session.duration, rel=0.05)  # the tree adds up
    assert result.hot_frames()[0][0].startswith("busy (")


def test_fast_requests_are_never_sampled(make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monitor = make_monitor(profiler_trigger_seconds=0.5)
    result = profile_of(monitor, lambda: busy(0.02))
    assert result.session is not None
    assert [stack for stack, _ in result.session.frame_records] == [
        [sampler_module.NOT_SAMPLED]]
    assert "before the sampler's trigger" in (result.note or "")


def test_threads_are_sampled_separately(monitor: PerformanceMonitor) -> None:
    results: dict[str, ProfileResult] = {}

    def worker(name: str, work: Callable[[], None]) -> None:
        results[name] = profile_of(monitor, work)

    threads = [threading.Thread(target=worker, args=("alpha", busy_alpha)),
               threading.Thread(target=worker, args=("beta", busy_beta))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    alpha, beta = results["alpha"].render_text() or "", results["beta"].render_text() or ""
    assert "busy_alpha" in alpha and "busy_beta" not in alpha
    assert "busy_beta" in beta and "busy_alpha" not in beta


def test_tasks_get_their_own_frames_and_waiting_shows_as_await(
        monitor: PerformanceMonitor) -> None:
    async def request(work: Callable[[], None]) -> ProfileResult:
        span = monitor.begin()
        await asyncio.sleep(0.03)
        work()
        await asyncio.sleep(0.03)
        result = monitor._stop_profile(span[1], keep=True)
        assert result is not None
        return result

    async def main() -> list[ProfileResult]:
        return list(await asyncio.gather(request(busy_alpha), request(busy_beta)))

    alpha, beta = (r.render_text() or "" for r in asyncio.run(main()))
    assert "busy_alpha" in alpha and "busy_beta" not in alpha
    assert "busy_beta" in beta and "busy_alpha" not in beta
    assert "[await]" in alpha and "[await]" in beta


def dive(depth: int) -> int:
    if depth == 0:
        busy(0.2)
        return 0
    return dive(depth - 1) + 1


def test_deep_recursion_gives_a_bounded_report(monitor: PerformanceMonitor,
                                               recorder: RecordingNotifier) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(12_000)
    try:
        assert monitor.create_decorator(name="deep")(dive)(10_000) == 10_000
    finally:
        sys.setrecursionlimit(limit)
    monitor.flush()
    [alert] = recorder.alerts
    assert {"[deep stack truncated]", "dive"} <= functions_in(alert)
    assert len(alert.html) < 5_000_000


def test_samples_per_request_are_capped(monitor: PerformanceMonitor,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampler_module, "MAX_SAMPLES", 20)
    result = profile_of(monitor, lambda: busy(0.4))
    assert result.session is not None
    assert len(result.session.frame_records) <= 20
    total = sum(seconds for _, seconds in result.session.frame_records)
    assert total == pytest.approx(result.session.duration, rel=0.05)


def _profile_in_child(queue: multiprocessing.Queue[str]) -> None:
    monitor = PerformanceMonitor(Config(threshold_seconds=0.05, alert_store_url="memory://",
                                        enable_local_file=False))
    queue.put(profile_of(monitor, busy_alpha).render_text() or "")


def test_sampler_restarts_in_a_forked_worker(monitor: PerformanceMonitor) -> None:
    profile_of(monitor, busy_beta)  # the parent's sampler thread is running
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = context.Queue()
    child = context.Process(target=_profile_in_child, args=(queue,))
    child.start()
    text = queue.get(timeout=30)
    child.join(30)
    assert "busy_alpha" in text


LAST_SAMPLER = """
import gc
from web_performance_monitor.profiling import sampler
profiler = sampler.SamplingProfiler(interval=0.005, trigger=0.01)
profiler.discard(profiler.begin()[1], None)  # the first request starts the thread
thread = profiler._thread
assert thread is not None and thread.is_alive()
del profiler
gc.collect()
thread.join(5)
assert not thread.is_alive(), "the sampler thread outlived its last profiler"
"""


def test_a_sampler_nobody_uses_any_more_ends_its_thread() -> None:
    """A monitor reconfigured or dropped must not leave a thread waking 100 times a second.

    In a process of its own: the thread is the process's, and serves every live profiler."""
    done = subprocess.run([sys.executable, "-c", LAST_SAMPLER], cwd=ROOT,
                          env=subprocess_env({}), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_overhead_backoff_backs_off_and_says_so(make_monitor: Callable[..., PerformanceMonitor],
                                              caplog: pytest.LogCaptureFixture) -> None:
    monitor = make_monitor(max_performance_overhead=0.000001, threshold_seconds=10)
    work = monitor.create_decorator(name="tiny")(lambda: None)
    for _ in range(5000):  # five overhead checks, each over the limit
        work()
    overhead = monitor.get_stats()["overhead_stats"]
    assert overhead["backoff_level"] == 5
    assert overhead["profiler_interval"] == pytest.approx(0.005 * 8)
    assert overhead["profiled_fraction"] == 0.25
    assert "backoff level 5" in caplog.text
    assert monitor.get_stats()["total_requests"] == 5000  # every call still timed and counted
    guard, profiler = monitor._backoff, monitor._profiler
    assert guard.adjust(0.0, 0.05, profiler) is not None  # well under the limit: one step back
    assert (guard.level, guard.every) == (4, 2)
    assert guard.adjust(0.04, 0.05, profiler) is None  # between half the limit and the limit
    monitor.update_config(max_performance_overhead=0.5)  # a new configuration starts afresh
    assert monitor.get_stats()["overhead_stats"]["backoff_level"] == 0


def test_overhead_backoff_judges_the_process_time_not_the_span(
        make_monitor: Callable[..., PerformanceMonitor],
        caplog: pytest.LogCaptureFixture) -> None:
    """Like Sanic's middleware, a span may cover a sliver of the work each request does: the
    monitor's cost against that sliver is large, against the process's time it is small."""
    monitor = make_monitor(max_performance_overhead=0.05, threshold_seconds=10)
    sliver = monitor.create_decorator(name="sliver")(lambda: None)
    for _ in range(1100):  # one overhead check, at the 1,000th call
        sliver()
        busy(0.001)  # the framework's own work around the span
    overhead = monitor.get_stats()["overhead_stats"]
    assert overhead["recent_overhead"] > 0.05  # per span, the monitor looks expensive
    assert overhead["backoff_level"] == 0  # it took well under 5% of the process's time
    assert "backoff level" not in caplog.text


def test_the_next_request_on_a_thread_replaces_an_abandoned_one(
        monitor: PerformanceMonitor) -> None:
    """A response nobody closed leaves its request registered; the thread's next request takes
    its place, so its frames are never charged to the abandoned one."""
    abandoned = monitor.begin()
    result = profile_of(monitor, busy_alpha)  # the next request on this thread
    assert "busy_alpha" in (result.render_text() or "")
    late = monitor._stop_profile(abandoned[1], keep=True)
    assert late is not None and late.session is None
    assert "discarded" in (late.note or "")
    assert monitor._profiler._runs == {}  # type: ignore[attr-defined]


def test_a_request_that_never_ends_is_forgotten(monitor: PerformanceMonitor) -> None:
    """A cancelled request task (client gone) or a finished thread never calls finish: the
    sampler drops its registration instead of keeping (and sampling) it forever."""
    runs = monitor._profiler._runs  # type: ignore[attr-defined]

    async def abandoned() -> None:
        monitor.begin()
        await asyncio.sleep(3600)

    async def main() -> None:
        task = asyncio.ensure_future(abandoned())
        await asyncio.sleep(0.01)
        assert task in runs
        task.cancel()

    asyncio.run(main())
    thread = threading.Thread(target=monitor.begin)
    thread.start()
    thread.join()
    assert thread.ident in runs  # (the cancelled task's may be gone already: the sampler ran)
    deadline = time.monotonic() + 10
    while runs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not runs
