"""Work a request hands to threads and child tasks shows in its own report, under its wait."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import RecordingNotifier, assert_own_frames_only, busy, functions_in
from tests.core.handoff_app import make_app
from tests.servers import BIN, ROOT, get_json, serve
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.adapter import SlowDetails
from web_performance_monitor.events import Alert

# route -> (the function doing the work, the frame that waits for it)
HANDOFFS = {
    "/invoice": ("crunch_invoice_totals", "invoice"),
    "/to_thread": ("crunch_in_to_thread", "to_thread"),
    "/executor": ("crunch_in_executor", "executor"),
    "/asgiref": ("crunch_in_asgiref", "asgiref"),
    "/gather": ("child_burning", "gather"),
    "/taskgroup": ("child_burning", "taskgroup"),
    "/task": ("child_burning", "task"),
    "/wait": ("child_burning", "wait"),
    "/wait_for": ("child_burning", "wait_for"),
    "/shield": ("crunch_in_to_thread", "shield"),
}


def only_alert(monitor: PerformanceMonitor, recorder: RecordingNotifier) -> Alert:
    monitor.flush()
    [alert] = recorder.alerts
    return alert


def stacks_with(alert: Alert, function: str) -> list[list[str]]:
    profile = alert.event.profile
    assert profile is not None and profile.session is not None, profile
    return [[frame.split("\x00", 1)[0] for frame in stack]
            for stack, _ in profile.session.frame_records
            if any(frame.startswith(function + "\x00") for frame in stack)]


@pytest.mark.parametrize("route", sorted(HANDOFFS))
def test_handed_off_work_is_in_the_report_under_the_waiting_frame(
        route: str, monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    work, waiting = HANDOFFS[route]
    assert TestClient(make_app(monitor)).get(route).status_code == 200
    alert = only_alert(monitor, recorder)
    stacks = stacks_with(alert, work)
    assert stacks, sorted(functions_in(alert))
    for names in stacks:  # the work hangs from the route function that waits for it
        assert waiting in names and names.index(waiting) < names.index(work), names
    assert alert.event.profile is not None  # the work is among the hottest functions
    hot = [name for name, _ in alert.event.profile.hot_frames()]
    assert any(name.startswith(("burn (", "crunch", "child_burning")) for name in hot), hot


@pytest.mark.parametrize("route", ["/invoice", "/executor", "/asgiref", "/to_thread"])
def test_a_thread_doing_the_work_is_named(route: str, monitor: PerformanceMonitor,
                                          recorder: RecordingNotifier) -> None:
    TestClient(make_app(monitor)).get(route)
    work, _ = HANDOFFS[route]
    [names, *_] = stacks_with(only_alert(monitor, recorder), work)
    assert any(name.startswith("[in thread ") for name in names), names


def run_request(monitor: PerformanceMonitor, path: str,
                work: Callable[[], Awaitable[None]]) -> None:
    """One request on its own event loop, timed and profiled as an adapter would."""
    async def request() -> None:
        span = monitor.begin()
        await work()
        monitor.finish(span, "request", "GET", path, None,
                       lambda _monitor, _subject: SlowDetails(path=path), None)

    asyncio.run(request())


def test_work_queued_behind_a_busy_pool_is_said_in_words(
        monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(busy, 0.15)  # someone else's work holds the only worker

        async def work() -> None:
            await asyncio.get_running_loop().run_in_executor(pool, busy, 0.05)

        run_request(monitor, "/queued", work)
    alert = only_alert(monitor, recorder)
    assert any(name.startswith("[await: queued") for name in functions_in(alert))


def test_work_in_another_process_is_said_in_words(
        monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(int).result()  # the worker process is up

        async def work() -> None:
            await asyncio.get_running_loop().run_in_executor(pool, time.sleep, 0.2)

        run_request(monitor, "/elsewhere", work)
    alert = only_alert(monitor, recorder)
    assert any(name.startswith("[await: running in an executor whose threads cannot be")
               for name in functions_in(alert)), sorted(functions_in(alert))


def test_fifty_concurrent_requests_handing_off_keep_their_own_frames(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier) -> None:
    """Half the requests are slow, half hand fast work to threads and child tasks."""
    from fastapi import FastAPI

    from web_performance_monitor.asgi import PerformanceMiddleware

    # The fast half yields to the loop, so it ends after the batch's set-up: ~0.4 s on a busy
    # machine. The slow half sleeps 1.2 s, in a thread and in a child task.
    monitor = make_monitor(alert_window_days=0, threshold_seconds=1.0)
    monitor.add_notifier(recorder)
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)

    def slow_marker() -> None:
        time.sleep(0.6)  # a slow call in a thread, that leaves the loop free

    def fast_marker() -> None:
        busy(0.002)

    async def work_fast_child() -> None:
        fast_marker()

    @api.get("/work/{n}")
    async def work(n: int) -> dict[str, int]:
        if n % 2:  # slow: its own frames, in a thread and in a child task
            await asyncio.to_thread(slow_marker)
            await asyncio.create_task(work_slow(n))
        elif n % 4:
            await asyncio.to_thread(fast_marker)
        else:
            await asyncio.gather(work_fast_child())
        return {"n": n}

    async def work_slow(n: int) -> None:
        await asyncio.sleep(0.6)

    async def main() -> list[int]:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(64))
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = await asyncio.gather(*(client.get(f"/work/{i}") for i in range(50)))
        return [r.json()["n"] for r in responses]

    assert asyncio.run(main()) == list(range(50))
    monitor.flush()
    stats = monitor.get_stats()
    assert stats["internal_errors"] == {}
    # A fast request delayed by its slow neighbours may be reported too: with its own frames.
    slow = [a for a in recorder.alerts if a.event.record and int(a.event.record.path[6:]) % 2]
    assert len(slow) == 25
    assert_own_frames_only(slow)
    for alert in recorder.alerts:
        if alert not in slow:
            assert not {"slow_marker", "work_slow"} & functions_in(alert)


@pytest.mark.skipif(sys.platform == "win32", reason="uvicorn subprocess")
def test_fastapi_def_route_under_uvicorn_names_the_work(tmp_path: Any) -> None:
    argv = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", "{port}", "--factory",
            "tests.core.handoff_app:create"]
    env = {"WPM_LOCAL_OUTPUT_DIR": str(tmp_path), "WPM_THRESHOLD_SECONDS": "0.1",
           "WPM_ALERT_STORE_URL": "memory://", "PYTHONPATH": str(ROOT)}
    with serve(argv, cwd=ROOT, env=env) as url:
        assert get_json(f"{url}/invoice") == {"total": 1}
        [alert] = get_json(f"{url}/_alerts")  # type: ignore[misc]
    assert alert["endpoint"] == "GET /invoice"
    assert {"crunch_invoice_totals", "invoice"} <= set(alert["functions"])
    assert any(name.startswith("burn (") for name in alert["hot"]), alert
