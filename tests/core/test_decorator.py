"""``monitor.create_decorator()`` for sync and async functions."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from tests.conftest import RecordingNotifier, busy, functions_in
from web_performance_monitor import PerformanceMonitor


class Failure(Exception):
    pass


def test_sync_function_keeps_signature_result_and_exceptions(
        monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    @monitor.create_decorator()
    def load_user(user_id: int, *, password: str = "", verbose: bool = False) -> dict[str, int]:
        """Docstring kept."""
        busy(0.07)
        if user_id < 0:
            raise Failure("negative")
        return {"id": user_id}

    assert load_user(7, password="pw-SECRET") == {"id": 7}
    assert load_user.__doc__ == "Docstring kept."
    assert list(inspect.signature(load_user).parameters) == ["user_id", "password", "verbose"]
    with pytest.raises(Failure, match="negative"):
        load_user(-1)
    monitor.flush()
    [alert] = recorder.alerts  # two slow calls, one endpoint, one alert
    assert alert.event.kind == "function"
    assert alert.event.endpoint.endswith("load_user")
    assert alert.event.call is not None
    assert alert.event.call["argument user_id"] == "7"
    assert alert.event.call["argument password"] == "********"
    assert "pw-SECRET" not in alert.html
    assert monitor.get_stats()["slow_requests"] == 2


def test_async_function(monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    @monitor.create_decorator(name="reports.build")
    async def build(n: int) -> int:
        await asyncio.sleep(0.03)
        busy(0.05)
        return n * 2

    assert inspect.iscoroutinefunction(build)
    assert asyncio.run(build(21)) == 42
    monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "reports.build"
    assert "busy" in functions_in(alert)


def test_per_function_threshold_and_bare_decorator(monitor: PerformanceMonitor,
                                                   recorder: RecordingNotifier) -> None:
    @monitor.create_decorator(threshold_seconds=10)
    def tolerant() -> None:
        busy(0.06)

    @monitor.create_decorator
    def plain() -> str:
        return "plain"

    tolerant()
    assert plain() == "plain"
    monitor.flush()
    assert recorder.alerts == []
    assert monitor.get_stats()["total_requests"] == 2


def test_nested_decorated_calls_do_not_raise(monitor: PerformanceMonitor,
                                             recorder: RecordingNotifier) -> None:
    @monitor.create_decorator(threshold_seconds=0.01)
    def inner() -> None:
        busy(0.03)

    @monitor.create_decorator()
    def outer() -> None:
        inner()
        busy(0.04)

    outer()
    monitor.flush()
    by_name = {a.event.endpoint.rsplit(".", 1)[-1]: a for a in recorder.alerts}
    assert set(by_name) == {"inner", "outer"}
    assert "inside another monitored call" in by_name["inner"].html
    assert "busy" in by_name["outer"].html


def test_concurrent_async_calls_do_not_raise(monitor: PerformanceMonitor) -> None:
    @monitor.create_decorator()
    async def handler(i: int) -> int:
        await asyncio.sleep(0.06)
        return i

    async def main() -> list[int]:
        return list(await asyncio.gather(*(handler(i) for i in range(20))))

    assert asyncio.run(main()) == list(range(20))
    monitor.flush()
    stats = monitor.get_stats()
    assert stats["slow_requests"] == 20
    assert stats["internal_errors"] == {}
