"""Django: a view's exception is in the alert; a sync view under ASGI shows its own frames."""

from __future__ import annotations

import asyncio

import pytest
from django.test import AsyncClient, Client

from tests.conftest import RecordingNotifier, functions_in
from web_performance_monitor import PerformanceMonitor


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
def test_the_exception_a_view_raised_is_in_the_alert(handler: str, dj_monitor: PerformanceMonitor,
                                                     recorder: RecordingNotifier) -> None:
    if handler == "wsgi":
        response = Client(raise_request_exception=False).get("/boom/")
    else:
        response = asyncio.run(AsyncClient(raise_request_exception=False).get("/boom/"))
    assert response.status_code == 500
    dj_monitor.flush()
    [alert] = recorder.alerts
    assert (alert.event.status, alert.event.error) == (500, "ZeroDivisionError")


def test_a_sync_view_under_asgi_shows_its_frames(dj_monitor: PerformanceMonitor,
                                                 recorder: RecordingNotifier) -> None:
    """Django runs a sync view through asgiref's ``sync_to_async`` in a worker thread."""
    response = asyncio.run(AsyncClient().get("/crunch/"))
    assert response.status_code == 200
    dj_monitor.flush()
    [alert] = recorder.alerts
    assert {"crunch", "busy"} <= functions_in(alert)
    assert any(name.startswith("[in thread") for name in functions_in(alert))
