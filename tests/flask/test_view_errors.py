"""Flask: the exception a view raised is in the alert, though Flask answered it with a 500."""

from __future__ import annotations

from flask import Flask

from flask_wpm import WPM
from tests.conftest import RecordingNotifier


def test_the_exception_a_view_raised_is_in_the_alert(app: Flask,
                                                     recorder: RecordingNotifier) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: Flask renders a 500 page
    assert app.test_client().get("/boom").status_code == 500
    WPM.get_monitor(app).flush()
    [alert] = recorder.alerts
    assert (alert.event.status, alert.event.error) == (500, "ZeroDivisionError")


def test_a_view_that_succeeds_has_no_error(app: Flask, recorder: RecordingNotifier) -> None:
    assert app.test_client().get("/users/1").status_code == 200
    WPM.get_monitor(app).flush()
    [alert] = recorder.alerts
    assert (alert.event.status, alert.event.error) == (200, None)
