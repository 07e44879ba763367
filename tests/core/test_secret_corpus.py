"""The planted-secret corpus (issue 13) through a plain WSGI app, FastAPI and the decorator."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from werkzeug.test import Client

from tests.conftest import RecordingNotifier, report_endpoint
from tests.secret_corpus import Corpus, check, found, outputs
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.asgi import PerformanceMiddleware


@pytest.fixture
def corpus_monitor(make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
                   caplog: pytest.LogCaptureFixture) -> PerformanceMonitor:
    """Every request slow and alerted (threshold 0, no alert window), all log lines kept."""
    caplog.set_level("DEBUG", logger="web_performance_monitor")
    monitor = make_monitor(threshold_seconds=0, alert_window_days=0)
    monitor.add_notifier(recorder)
    return monitor


def reading_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A plain WSGI app (no route templates) that reads its whole body."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_no_planted_secret_leaves_a_plain_wsgi_app(
        corpus_monitor: PerformanceMonitor, recorder: RecordingNotifier, report_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    corpus = Corpus("WS")
    client = Client(corpus_monitor.create_middleware()(reading_app))
    for call in corpus.calls:
        client.open(call.url, method=call.method, data=call.body, headers=list(call.headers))
    corpus_monitor.flush()
    check(corpus, recorder, report_dir, caplog)
    endpoints = {alert.event.endpoint for alert in recorder.alerts}
    assert "GET /reset/{token}" in endpoints  # the raw path's value collapsed


def test_no_planted_secret_leaves_a_fastapi_app(
        corpus_monitor: PerformanceMonitor, recorder: RecordingNotifier, report_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    corpus = Corpus("FA")
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=corpus_monitor)

    async def handler(request: Request) -> dict[str, bool]:
        await request.body()
        return {"ok": True}

    for call in corpus.routes:
        api.add_api_route(call.route_as("starlette"), handler, methods=[call.method])
    client = TestClient(api)
    for call in corpus.calls:
        client.request(call.method, call.url, content=call.body, headers=dict(call.headers))
    corpus_monitor.flush()
    check(corpus, recorder, report_dir, caplog)


@dataclass
class User:
    name: str
    password: str


def test_no_planted_secret_leaves_a_decorated_function(
        corpus_monitor: PerformanceMonitor, recorder: RecordingNotifier, report_dir: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    secrets = {f"DCsecret{i}x7" for i in range(8)}
    s = sorted(secrets)

    @corpus_monitor.create_decorator(name="login")
    def login(*args: Any, **kwargs: Any) -> None:
        """Called with secrets in every place an argument can hold one."""

    login(password=s[0])
    login({"card_number": s[1], "amount": 12})
    login(dsn=f"postgresql://app:{s[2]}@db/x")
    login(f"https://x.example/cb?token={s[3]}&page=2")
    login(User("alice", s[4]))
    login([{"nested": {"apiKey": s[5]}}])
    login(headers={"Authorization": f"Bearer {s[6]}"}, note=f"a=1; token={s[7]}; b=2")
    login("nice \ud83d")
    corpus_monitor.flush()
    texts = outputs(recorder, report_dir, caplog)
    assert len(recorder.alerts) == 8
    assert found(secrets, texts) == []
    shown = [alert.event.call for alert in recorder.alerts]
    assert shown[1] is not None and "'amount': 12" in shown[1]["argument args"]
    assert shown[4] is not None and "alice" in shown[4]["argument args"]
    print(f"corpus DC: {len(secrets)} secrets planted, 0 found")


def test_the_lone_surrogate_report_is_written(corpus_monitor: PerformanceMonitor,
                                              recorder: RecordingNotifier, report_dir: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """Issue 13: ``{"text": "nice \\ud83d"}`` broke the file notifier with a 100 KB warning."""
    client = Client(corpus_monitor.create_middleware()(reading_app))
    client.post("/comments", data=b'{"text": "nice \\ud83d"}', content_type="application/json")
    corpus_monitor.flush()
    [report] = report_dir.glob("wpm_*.html")
    assert "nice \\ud83d" in report.read_text("utf-8")
    stats = corpus_monitor.get_stats()
    assert (stats["alerts_sent"], stats["alerts_failed"], stats["internal_errors"]) == (1, 0, {})
    assert json.loads(recorder.alerts[0].event.record.body or b"") == {"text": "nice \ud83d"}


def test_a_raw_path_token_reaches_no_output(corpus_monitor: PerformanceMonitor,
                                            recorder: RecordingNotifier, report_dir: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """Issue 13, row 1, without a route: the endpoint, file name, log line and message."""
    Client(corpus_monitor.create_middleware()(reading_app)).get("/reset/S3CR3T")
    corpus_monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET /reset/{token}"
    assert report_endpoint(alert.filename) == "GET-reset-token"
    texts = outputs(recorder, report_dir, caplog)
    assert any("GET /reset/{token} took" in text for text in texts)
    assert found(["S3CR3T"], texts) == []
