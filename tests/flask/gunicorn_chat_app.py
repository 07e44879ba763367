"""The app the hanging-chat gunicorn test serves: 30 slow endpoints, configuration from WPM_*."""

from __future__ import annotations

import os
import time

from flask import Flask, jsonify

from flask_wpm import WPM

app = Flask(__name__)
app.config.update({key: value for key, value in os.environ.items() if key.startswith("WPM_")})


def slow(endpoint: int) -> object:
    time.sleep(0.1)
    return jsonify(endpoint=endpoint, pid=os.getpid())


for number in range(30):
    app.add_url_rule(f"/e{number}", f"e{number}", slow, defaults={"endpoint": number})

WPM(app)
