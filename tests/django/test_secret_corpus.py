"""The planted-secret corpus (issue 13) through a Django project with the middleware."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import RecordingNotifier
from tests.django.corpus_urls import CORPUS
from tests.secret_corpus import check
from web_performance_monitor import PerformanceMonitor


@pytest.fixture
def corpus_settings(wpm_settings: dict[str, object], settings: pytest.FixtureRequest) -> None:
    settings.ROOT_URLCONF = "tests.django.corpus_urls"
    settings.WPM = {**wpm_settings, "THRESHOLD_SECONDS": 0, "ALERT_WINDOW_DAYS": 0}


def test_no_planted_secret_leaves_a_django_project(
        corpus_settings: None, dj_monitor: PerformanceMonitor, recorder: RecordingNotifier,
        report_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="web_performance_monitor")
    client = Client()
    for call in CORPUS.calls:
        headers = dict(call.headers)
        content_type = headers.pop("Content-Type", "application/octet-stream")
        client.generic(call.method, call.url, data=call.body, content_type=content_type,
                       headers=headers)
    dj_monitor.flush()
    check(CORPUS, recorder, report_dir, caplog)
    endpoints = {alert.event.endpoint for alert in recorder.alerts}
    assert "GET reset/<str:token>" in endpoints and "GET <unmatched>" in endpoints
