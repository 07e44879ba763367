"""Flask test apps built the way Flask users build them: an app factory and the extension."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, jsonify, request, stream_with_context

from flask_wpm import WPM
from tests.conftest import RecordingNotifier, busy


def build_app(report_dir: Path, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        WPM_THRESHOLD_SECONDS=0.05,
        WPM_LOCAL_OUTPUT_DIR=str(report_dir),
        WPM_ALERT_STORE_URL="memory://",
        WPM_NOTIFY_RETRIES=0,
    )
    app.config.update(config)

    @app.get("/fast")
    def fast() -> Any:
        return jsonify(ok=True)

    @app.get("/users/<int:uid>")
    def user(uid: int) -> Any:
        busy(0.07)
        return jsonify(id=uid)

    @app.post("/echo")
    def echo() -> Any:
        busy(0.07)
        return jsonify(json=request.get_json(silent=True), form=request.form.to_dict(),
                       raw=len(request.get_data()))

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Any:
            for i in range(3):
                busy(0.03)
                yield f"{i}\n"

        return Response(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/boom")
    def boom() -> Any:
        busy(0.06)
        raise ZeroDivisionError("view bug")

    api = Blueprint("api", __name__, url_prefix="/api")

    @api.get("/items/<name>")
    def item(name: str) -> Any:
        busy(0.06)
        return jsonify(name=name)

    app.register_blueprint(api)
    return app


@pytest.fixture
def make_app(report_dir: Path) -> Callable[..., Flask]:
    def make(**config: Any) -> Flask:
        app = build_app(report_dir, **config)
        WPM(app)
        return app

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask], recorder: RecordingNotifier) -> Flask:
    app = make_app()
    WPM.get_monitor(app).add_notifier(recorder)
    yield app
    WPM.get_monitor(app).close()
