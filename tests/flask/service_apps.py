"""Two apps with the same route, for the test that runs each under its own gunicorn with one
report folder: ``shop`` and ``admin`` name their services (Flask's app name)."""

from __future__ import annotations

import time

from flask import Flask

from flask_wpm import WPM


def build(name: str) -> Flask:
    """An app whose ``GET /slow`` takes 0.1 s; its options come from ``WPM_*`` variables."""
    app = Flask(name)

    @app.get("/slow")
    def slow() -> str:
        time.sleep(0.1)
        return name

    WPM(app)
    return app


shop = build("shop")
admin = build("admin")
