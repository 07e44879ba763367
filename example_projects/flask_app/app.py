"""A small Flask app watched by web-performance-monitor.

Run it:  flask --app example_projects/flask_app/app.py run
Then:    curl http://127.0.0.1:5000/fast ; curl http://127.0.0.1:5000/slow
A report for the slow endpoint appears in example_projects/flask_app/reports/.
"""

from __future__ import annotations

import hashlib
import os
import time

from flask import Flask, jsonify, request

from flask_wpm import WPM

HERE = os.path.dirname(os.path.abspath(__file__))


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        WPM_THRESHOLD_SECONDS=0.1,
        WPM_LOCAL_OUTPUT_DIR=os.environ.get("WPM_LOCAL_OUTPUT_DIR", os.path.join(HERE, "reports")),
        WPM_ALERT_WINDOW_DAYS=1,
        WPM_URL_BLACKLIST=["/health"],
    )
    WPM(app)

    @app.get("/fast")
    def fast():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    @app.get("/health")
    def health():  # type: ignore[no-untyped-def]
        return "ok"

    @app.route("/slow", methods=["GET", "POST"])
    def slow():  # type: ignore[no-untyped-def]
        payload = request.get_json(silent=True) or {}
        digest = hash_many(int(request.args.get("rounds", 60_000)))
        time.sleep(0.1)  # waiting on "the database"
        return jsonify(digest=digest, received=sorted(payload))

    return app


def hash_many(rounds: int) -> str:
    """Deliberately slow CPU work so the report has something to show."""
    value = b"seed"
    for _ in range(rounds):
        value = hashlib.sha256(value).digest()
    return value.hex()


app = create_app()
