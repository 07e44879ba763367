"""The service an app is and what serves it, when ``service_name`` is not set: named by the
middleware or decorator from what it wraps, and said in the start-up line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

from tests.conftest import RecordingNotifier, busy
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.identity import framework_label, top_package


def plain_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    busy(0.06)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_a_wsgi_callable_is_named_by_its_module(monitor: PerformanceMonitor,
                                                recorder: RecordingNotifier) -> None:
    app = monitor.create_middleware()(plain_app)
    assert Client(app).get("/slow").status_code == 200
    monitor.flush()
    event = recorder.alerts[0].event
    assert (event.service, event.framework) == ("tests", "WSGI")


def test_a_wrapped_flask_app_is_named_by_flask(monitor: PerformanceMonitor) -> None:
    """``app.wsgi_app = monitor.create_middleware()(app.wsgi_app)``: the bound method's app
    names the service and says which framework serves it."""
    app = Flask("inventory")
    app.wsgi_app = monitor.create_middleware()(app.wsgi_app)  # type: ignore[method-assign]
    assert (monitor.service_name, monitor.framework) == ("inventory",
                                                         framework_label("Flask", "flask"))


def test_a_middleware_names_the_app_over_a_decorator(monitor: PerformanceMonitor) -> None:
    """Decorators run at import, often before the app is wrapped: they name the monitor only
    until a middleware does; the first middleware's name then stays."""
    @monitor.create_decorator()
    def job() -> None:
        pass

    assert (monitor.service_name, monitor.framework) == ("tests", "function")
    monitor.create_middleware()(Flask("orders").wsgi_app)
    monitor.create_middleware()(Flask("other").wsgi_app)
    assert monitor.service_name == "orders"


def test_service_name_wins(make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monitor = make_monitor(service_name="billing")
    monitor.create_middleware()(plain_app)
    assert (monitor.service_name, monitor.framework) == ("billing", "WSGI")


def test_the_start_up_line_names_the_service(make_monitor: Callable[..., PerformanceMonitor],
                                             caplog: pytest.LogCaptureFixture) -> None:
    """Logged once the monitor knows what it watches: built by an adapter, or when it wraps
    the app."""
    with caplog.at_level(logging.INFO, logger="web_performance_monitor"):
        monitor = make_monitor()
        assert not caplog.records
        monitor.create_middleware()(plain_app)
        monitor.create_middleware()(plain_app)
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("web_performance_monitor: monitoring requests slower than 0.05s")
    assert "of service tests (WSGI)" in line


def test_an_adapter_names_the_monitor_when_building_it(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="web_performance_monitor"):
        monitor = PerformanceMonitor(service="shop", framework="Flask 3.1.3")
    try:
        assert "of service shop (Flask 3.1.3)" in caplog.records[0].getMessage()
    finally:
        monitor.close(final=True)


def test_a_script_is_named_by_its_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python app.py``: ``__main__`` is no name for a service (Flask names it the same way)."""
    import sys
    import types

    script = types.ModuleType("__main__")
    script.__file__ = "/srv/shop/app.py"
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert top_package("__main__") == "app"
    assert top_package("shop.wsgi") == "shop"


def test_a_mounted_wsgi_app_keeps_its_mount_point(monitor: PerformanceMonitor) -> None:
    """Without a route template the endpoint is the path as served: two apps mounted by
    ``DispatcherMiddleware`` (``SCRIPT_NAME``) under one monitor are two endpoints."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    def fast(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b""]

    client = Client(monitor.create_middleware()(DispatcherMiddleware(fast, {"/admin": fast})))
    assert client.get("/reports/7").status_code == 200
    assert client.get("/admin/reports/8").status_code == 200
    assert set(monitor.get_stats()["endpoints"]) == {"GET /reports/{id}",
                                                     "GET /admin/reports/{id}"}
