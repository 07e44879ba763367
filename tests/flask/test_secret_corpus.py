"""The planted-secret corpus (issue 13) through a Flask app with the extension."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, request

from flask_wpm import WPM
from tests.conftest import RecordingNotifier
from tests.secret_corpus import Corpus, check


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
