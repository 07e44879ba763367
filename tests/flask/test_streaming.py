"""A Flask request ends when its body ends, whatever its headers say."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, jsonify, send_file, stream_with_context

from flask_wpm import WPM
from tests.conftest import RecordingNotifier, busy, functions_in


@pytest.fixture
def streaming_app(app: Flask, tmp_path: Path) -> Flask:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"p" * 5000)

    @app.get("/declared")
    def declared() -> Response:
        def generate_rows() -> Iterator[bytes]:
            for _ in range(6):
                busy(0.1)
                yield b"r" * 1000

        return Response(stream_with_context(generate_rows()),
                        headers={"Content-Length": "6000"})

    @app.get("/in-memory")
    def in_memory() -> Any:
        return jsonify(ok=True)

    @app.get("/file")
    def file() -> Any:
        return send_file(payload)

    return app


def call(app: Flask, path: str) -> tuple[Any, list[str]]:
    """Run the WSGI app as a server would, without reading the body yet."""
    statuses: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "t",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": None}
    return app.wsgi_app(environ, lambda status, headers, exc=None: statuses.append(status)), \
        statuses


def test_a_streamed_body_with_a_content_length_is_timed_to_its_end(
        streaming_app: Flask, recorder: RecordingNotifier) -> None:
    response = streaming_app.test_client().get("/declared")
    assert response.data == b"r" * 6000
    monitor = WPM.get_monitor(streaming_app)
    monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.duration >= 0.6
    assert "generate_rows" in functions_in(alert)
    assert monitor.get_stats()["endpoints"]["GET /declared"]["slow_requests"] == 1


def test_a_streamed_body_is_still_running_when_the_app_returns(streaming_app: Flask) -> None:
    monitor = WPM.get_monitor(streaming_app)
    body, _ = call(streaming_app, "/declared")
    assert monitor.get_stats()["total_requests"] == 0
    assert b"".join(body) == b"r" * 6000
    body.close()
    assert monitor.get_stats()["total_requests"] == 1


def test_a_body_in_memory_ends_when_the_app_returns(streaming_app: Flask) -> None:
    monitor = WPM.get_monitor(streaming_app)
    body, statuses = call(streaming_app, "/in-memory")
    assert statuses == ["200 OK"]
    assert monitor.get_stats()["total_requests"] == 1  # before the server reads the body
    assert b"".join(body) == b'{"ok":true}\n'
    body.close()
    assert monitor.get_stats()["total_requests"] == 1


def test_send_file_is_served_whole(streaming_app: Flask) -> None:
    response = streaming_app.test_client().get("/file")
    assert response.data == b"p" * 5000
    response.close()
    stats = WPM.get_monitor(streaming_app).get_stats()
    assert stats["endpoints"]["GET /file"]["requests"] == 1
