"""The app the gunicorn test serves: report folder from the environment, default SQLite store."""

from __future__ import annotations

import os
import time

from flask import Flask, jsonify

from flask_wpm import WPM

app = Flask(__name__)
app.config["WPM_THRESHOLD_SECONDS"] = 0.05
app.config["WPM_LOCAL_OUTPUT_DIR"] = os.environ["TEST_REPORT_DIR"]
WPM(app)


@app.get("/users/<int:uid>")
def user(uid: int):  # type: ignore[no-untyped-def]
    time.sleep(0.1)
    return jsonify(id=uid, pid=os.getpid())


@app.get("/fast")
def fast():  # type: ignore[no-untyped-def]
    return jsonify(pid=os.getpid())
