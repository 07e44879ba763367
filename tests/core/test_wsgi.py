"""The WSGI middleware through werkzeug's test client: timing, capture, and an untouched app."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import Client

from tests.conftest import RecordingNotifier, busy, functions_in, path_name
from tests.core.wsgi_apps import Boom, failing_app, fast_app, slow_app, streaming_app
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.wsgi import InputTee


def wrap(monitor: PerformanceMonitor, app: Any) -> Client:
    return Client(monitor.create_middleware()(app))


def test_fast_request_is_counted_but_not_alerted(monitor: PerformanceMonitor,
                                                 recorder: RecordingNotifier) -> None:
    response = wrap(monitor, fast_app).get("/fast")
    assert response.data == b"fast"
    monitor.flush()
    stats = monitor.get_stats()
    assert stats["total_requests"] == 1
    assert stats["slow_requests"] == 0
    assert recorder.alerts == []


def test_slow_request_alerts_once_with_its_profile(monitor: PerformanceMonitor,
                                                   recorder: RecordingNotifier) -> None:
    client = wrap(monitor, slow_app)
    for _ in range(3):
        response = client.post("/orders", data=b"x" * 10)
        assert response.status_code == 201
        assert response.json == {"read": 10}
        assert response.headers["X-App"] == "yes"
    monitor.flush()
    stats = monitor.get_stats()
    assert (stats["total_requests"], stats["slow_requests"]) == (3, 3)
    assert stats["slow_request_rate"] == 100.0
    assert stats["alerts_sent"] == 1
    assert stats["alerts_suppressed"] == 2
    [alert] = recorder.alerts
    assert alert.event.endpoint == "POST /orders"
    assert alert.event.status == 201
    assert alert.event.duration >= 0.1
    assert any("busy" in name for name, _ in alert.hot_frames)
    assert "busy" in functions_in(alert)


def test_wrapping_twice_times_each_request_once(monitor: PerformanceMonitor,
                                               recorder: RecordingNotifier) -> None:
    middleware = monitor.create_middleware()
    client = Client(middleware(middleware(slow_app)))
    for _ in range(2):
        client.get("/slow")
    monitor.flush()
    stats = monitor.get_stats()
    assert (stats["total_requests"], len(recorder.alerts), stats["alerts_suppressed"]) == (2, 1, 1)


def test_the_next_alert_says_how_many_were_suppressed(make_monitor: Callable[..., Any],
                                                       recorder: RecordingNotifier) -> None:
    monitor = make_monitor(alert_window_days=0.5 / 86400)  # half a second
    monitor.add_notifier(recorder)
    client = wrap(monitor, slow_app)
    client.get("/a")
    client.get("/a")
    client.get("/a")
    monitor.flush()
    import time

    time.sleep(0.5)
    client.get("/a")
    monitor.flush()
    assert [a.suppressed_before for a in recorder.alerts] == [0, 2]
    assert "2 more slow requests" in recorder.alerts[1].message


def test_body_is_still_readable_by_the_app_and_captured(monitor: PerformanceMonitor,
                                                        recorder: RecordingNotifier) -> None:
    payload = {"user": "ada", "password": "hunter2", "items": [{"api_key": "k-123"}]}
    response = wrap(monitor, slow_app).post("/login", json=payload)
    assert response.json == {"read": len(json.dumps(payload))}
    monitor.flush()
    alert = recorder.alerts[0]
    assert alert.request is not None
    assert alert.request["body"]["json"] == {"user": "ada", "password": "********",
                                             "items": [{"api_key": "********"}]}
    assert "hunter2" not in alert.html and "k-123" not in alert.html


def test_streamed_response_is_timed_to_the_last_chunk(monitor: PerformanceMonitor,
                                                      recorder: RecordingNotifier) -> None:
    response = wrap(monitor, streaming_app).get("/stream")
    assert response.get_data() == b"chunk 0\nchunk 1\nchunk 2\n"
    monitor.flush()
    assert monitor.get_stats()["slow_requests"] == 1
    assert recorder.alerts[0].event.duration >= 0.09


def test_streamed_response_is_not_buffered(monitor: PerformanceMonitor) -> None:
    app = monitor.create_middleware()(streaming_app)
    seen: list[str] = []
    result = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/s", "wsgi.input": io.BytesIO()},
                 lambda status, headers, exc_info=None: seen.append(status))
    iterator = iter(result)
    assert next(iterator) == b"chunk 0\n"  # the first chunk arrives before the others exist
    assert monitor.get_stats()["total_requests"] == 0  # still running
    assert list(iterator) == [b"chunk 1\n", b"chunk 2\n"]
    result.close()
    assert monitor.get_stats()["total_requests"] == 1


def test_view_exception_propagates_and_is_timed(monitor: PerformanceMonitor,
                                                recorder: RecordingNotifier) -> None:
    with pytest.raises(Boom, match="the view failed"):
        wrap(monitor, failing_app).get("/fail")
    monitor.flush()
    assert monitor.get_stats()["slow_requests"] == 1
    assert recorder.alerts[0].event.error == "Boom"


def test_blacklisted_requests_are_counted_not_alerted(make_monitor: Callable[..., Any],
                                                      recorder: RecordingNotifier) -> None:
    monitor = make_monitor(url_blacklist=["/health", "/api/legacy/.*"])
    monitor.add_notifier(recorder)
    client = wrap(monitor, slow_app)
    client.get("/health")
    client.get("/api/legacy/anything")
    monitor.flush()
    assert monitor.get_stats()["slow_requests"] == 2
    assert recorder.alerts == []


def test_disable_monitoring_makes_a_pass_through(monitor: PerformanceMonitor) -> None:
    monitor.disable_monitoring()
    assert wrap(monitor, slow_app).get("/x").status_code == 201
    assert monitor.get_stats()["total_requests"] == 0
    monitor.enable_monitoring()
    wrap(monitor, fast_app).get("/x")
    assert monitor.get_stats()["total_requests"] == 1


def test_trace_ids_reach_report_and_message(monitor: PerformanceMonitor,
                                            recorder: RecordingNotifier) -> None:
    wrap(monitor, slow_app).get("/t", headers={
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "X-Request-ID": "req-42"})
    monitor.flush()
    alert = recorder.alerts[0]
    assert alert.trace["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert alert.trace["span_id"] == "00f067aa0ba902b7"
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in alert.message
    assert alert.trace["x-request-id"] == "req-42"


def test_stats_are_thread_safe_and_per_endpoint(monitor: PerformanceMonitor) -> None:
    client_app = monitor.create_middleware()(fast_app)

    def hammer(n: int) -> None:
        client = Client(client_app)
        for _ in range(200):
            client.get(f"/e{n}")

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = monitor.get_stats()
    assert stats["total_requests"] == 800
    assert {k: v["requests"] for k, v in stats["endpoints"].items()} == {
        f"GET /e{n}": 200 for n in range(4)}
    assert stats["overhead_stats"]["average_overhead"] > 0
    monitor.reset_stats()
    assert monitor.get_stats()["total_requests"] == 0


def test_endpoint_table_is_bounded(monitor: PerformanceMonitor) -> None:
    client = wrap(monitor, fast_app)
    for i in range(600):
        client.get(f"/random/{path_name(i)}")
    endpoints = monitor.get_stats()["endpoints"]
    assert len(endpoints) <= 501
    assert endpoints["<other endpoints>"]["requests"] == 100


def test_endpoint_table_counts_slow_requests_and_keeps_the_peak(
        monitor: PerformanceMonitor) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return (slow_app if environ["PATH_INFO"].startswith("/orders") else fast_app)(
            environ, start_response)

    client = wrap(monitor, app)
    for _ in range(2):
        client.post("/orders", data=b"x")
        client.get("/fast")
    for i in range(500):  # fills the table: a slow endpoint past it is counted as "other"
        client.get(f"/random/{path_name(i)}")
    client.post("/orders/new", data=b"x")
    endpoints = monitor.get_stats()["endpoints"]
    orders, fast = endpoints["POST /orders"], endpoints["GET /fast"]
    assert (orders["requests"], orders["slow_requests"]) == (2, 2)
    assert orders["max_seconds"] >= orders["average_seconds"] >= 0.1
    assert (fast["requests"], fast["slow_requests"]) == (2, 0)
    assert fast["max_seconds"] < 0.1
    assert endpoints["<other endpoints>"]["slow_requests"] == 1


def test_input_tee_keeps_only_a_bounded_prefix() -> None:
    tee = InputTee(io.BytesIO(b"a" * 100 + b"\nrest"), cap=10)
    assert tee.readline() == b"a" * 100 + b"\n"
    assert tee.read() == b"rest"
    assert bytes(tee.kept) == b"a" * 10
    assert tee.seen == 105


def test_decorated_function_inside_a_request_does_not_raise(
        monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    @monitor.create_decorator(threshold_seconds=0.01)
    def inner() -> str:
        busy(0.06)
        return "inner"

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [])
        return [inner().encode()]

    assert wrap(monitor, app).get("/nested").data == b"inner"
    monitor.flush()
    endpoints = sorted(a.event.endpoint for a in recorder.alerts)
    assert endpoints == ["GET /nested", f"{__name__}.{inner.__qualname__}"]
    assert monitor.get_stats()["internal_errors"] == {}
