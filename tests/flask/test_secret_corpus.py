"""The planted-secret corpus (issue 13) through a Flask app with the extension."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, request

from flask_wpm import WPM
from tests.conftest import RecordingNotifier
from tests.secret_corpus import Corpus, check, found, outputs


def test_no_planted_secret_leaves_a_flask_app(report_dir: Path, recorder: RecordingNotifier,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="web_performance_monitor")
    corpus = Corpus("FL")
    app = Flask(__name__)
    app.config.update(TESTING=True, WPM_THRESHOLD_SECONDS=0, WPM_ALERT_WINDOW_DAYS=0,
                      WPM_LOCAL_OUTPUT_DIR=str(report_dir), WPM_ALERT_STORE_URL="memory://",
                      WPM_NOTIFY_RETRIES=0)

    def handler(**values: str) -> str:
        request.get_data()  # the view reads its body: the report may show it, masked
        request.form.to_dict()
        return "ok"

    for i, call in enumerate(corpus.routes):
        app.add_url_rule(call.route_as("flask"), f"h{i}", handler, methods=[call.method])
    WPM(app).get_monitor(app).add_notifier(recorder)
    client = app.test_client()
    for call in corpus.calls:
        client.open(call.url, method=call.method, data=call.body, headers=list(call.headers))
    WPM.get_monitor(app).flush()
    check(corpus, recorder, report_dir, caplog)
    routes = {alert.event.endpoint for alert in recorder.alerts}
    assert "GET /reset/<token>" in routes and "GET <unmatched>" in routes


def test_a_route_token_reaches_no_output(report_dir: Path, recorder: RecordingNotifier,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """Issue 13, row 1: ``/reset/<token>`` with ``GET /reset/S3CR3T``."""
    caplog.set_level("INFO", logger="web_performance_monitor")
    app = Flask(__name__)
    app.config.update(WPM_THRESHOLD_SECONDS=0, WPM_LOCAL_OUTPUT_DIR=str(report_dir),
                      WPM_ALERT_STORE_URL="memory://")

    @app.get("/reset/<token>")
    def reset(token: str) -> str:
        return "ok"

    WPM(app).get_monitor(app).add_notifier(recorder)
    assert app.test_client().get("/reset/S3CR3T").status_code == 200
    WPM.get_monitor(app).flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET /reset/<token>"
    assert alert.event.record is not None and alert.event.record.path == "/reset/S3CR3T"
    texts = outputs(recorder, report_dir, caplog)
    assert any("GET /reset/<token> took" in text for text in texts)
    assert found(["S3CR3T"], texts) == []


def test_a_lone_surrogate_in_a_slow_views_json(app: Flask, recorder: RecordingNotifier,
                                                report_dir: Path) -> None:
    """Issue 13: ``{"text": "nice \\ud83d"}`` is valid JSON that UTF-8 cannot encode."""
    response = app.test_client().post("/echo", data=b'{"text": "nice \\ud83d"}',
                                      content_type="application/json")
    assert response.status_code == 200
    monitor = WPM.get_monitor(app)
    monitor.flush()
    [report] = report_dir.glob("wpm_*POST-echo_*.html")
    assert "nice \\ud83d" in report.read_text("utf-8")
    stats = monitor.get_stats()
    assert (stats["alerts_failed"], stats["internal_errors"]) == (0, {})
