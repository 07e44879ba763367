"""Sanic: a handler's exception is in the report; streamed responses end with their body."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from sanic import Request, Sanic, text
from sanic.exceptions import BadRequest

from sanic_wpm import WPM
from tests.conftest import RecordingNotifier, busy, functions_in

Sanic.test_mode = True
_names = itertools.count()


class InvoiceError(Exception):
    pass


@pytest.fixture
def app(report_dir: Path, recorder: RecordingNotifier) -> Sanic:
    app = Sanic(f"errors_{next(_names)}")
    app.config.WPM_THRESHOLD_SECONDS = 0.05
    app.config.WPM_LOCAL_OUTPUT_DIR = str(report_dir)
    app.config.WPM_ALERT_STORE_URL = "memory://"
    app.config.WPM_ALERT_WINDOW_DAYS = 0
    WPM(app)

    @app.before_server_start
    async def record_alerts(app: Sanic) -> None:
        WPM.get_monitor(app).add_notifier(recorder)

    @app.get("/raises")
    async def raises(request: Request) -> Any:
        busy(0.08)
        raise InvoiceError("totals do not add up")

    @app.get("/bad")
    async def bad(request: Request) -> Any:
        busy(0.08)
        raise BadRequest("no such invoice")

    @app.get("/fine")
    async def fine(request: Request) -> Any:
        busy(0.08)
        return text("fine")

    @app.get("/stream")
    async def stream(request: Request) -> None:
        response = await request.respond(content_type="text/plain")
        for i in range(4):
            stream_rows(0.05)
            await response.send(f"{i}\n")

    return app


def stream_rows(seconds: float) -> None:
    busy(seconds)


@pytest.mark.parametrize(("path", "status", "error"), [
    ("/raises", 500, "InvoiceError"), ("/bad", 400, "BadRequest"), ("/fine", 200, None)])
def test_the_exception_a_handler_raised_is_recorded(
        app: Sanic, recorder: RecordingNotifier, path: str, status: int, error: str) -> None:
    _, response = app.test_client.get(path)
    assert response.status == status
    [alert] = recorder.alerts
    assert (alert.event.status, alert.event.error) == (status, error)
    assert alert.event.duration >= 0.08  # timed from the request's start, not the error's


def test_a_failure_is_not_charged_to_the_next_request(
        app: Sanic, recorder: RecordingNotifier) -> None:
    async def main() -> None:
        _, first = await app.asgi_client.get("/raises")
        _, second = await app.asgi_client.get("/fine")
        assert (first.status, second.status) == (500, 200)

    asyncio.run(main())
    WPM.get_monitor(app).flush()
    assert sorted((a.event.endpoint, a.event.error) for a in recorder.alerts) == [
        ("GET /fine", None), ("GET /raises", "InvoiceError")]


def test_a_streamed_response_ends_with_its_last_chunk(
        app: Sanic, recorder: RecordingNotifier) -> None:
    _, response = app.test_client.get("/stream")
    assert response.text == "0\n1\n2\n3\n"
    [alert] = recorder.alerts
    assert alert.event.duration >= 0.2
    assert alert.event.status == 200
    assert "stream_rows" in functions_in(alert)
