"""A Flask view's outgoing calls, through the extension and Flask's test client."""

from __future__ import annotations

import requests
from flask import Flask

from flask_wpm import WPM
from tests.conftest import RecordingNotifier


def test_a_views_outgoing_call_is_in_its_slow_event(app: Flask, recorder: RecordingNotifier,
                                                    http_target: str) -> None:
    @app.get("/orders/<int:oid>")
    def order(oid: int) -> dict[str, str]:
        stock = requests.get(f"{http_target}/stock?delay=0.07&order={oid}", timeout=5)
        return {"stock": stock.text}

    response = app.test_client().get("/orders/7")
    assert response.json == {"stock": "ok /stock"}
    assert WPM.get_monitor(app).flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET /orders/<int:oid>"
    assert alert.event.captured is not None
    [made] = alert.event.captured.calls
    assert (made.method, made.url, made.status, made.library) == (
        "GET", f"{http_target}/stock?delay=0.07&order=7", 200, "requests")
    assert made.site is not None and made.site[:2] == (__file__, order.__qualname__)
    assert made.duration >= 0.07
