"""The app `bench/soak.py` serves under gunicorn: 50 endpoints, configuration from ``WPM_*``.

Fifty routes, not one ``/e/<name>`` template: the monitor keys alerts by route, and the soak
checks one report per endpoint, so it needs fifty distinct endpoints. The monitor takes every
setting from the environment the soak gives gunicorn (``WPM_*`` apply under Flask), so this
file holds no configuration of its own.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, jsonify, request

from flask_wpm import WPM

# Given by the soak (importing this module there would start a monitor in the soak process).
ENDPOINTS = int(os.environ["SOAK_ENDPOINTS"])
SLOW_SECONDS = 0.25  # above the soak's WPM_THRESHOLD_SECONDS=0.2
STATS_HOLD_SECONDS = 0.05  # below the threshold: reading the stats is never a slow request

app = Flask(__name__)
WPM(app)


def endpoint(number: int) -> Response:
    """Busy-loop when asked (``?slow=1``): CPU work, as a slow handler does, not a sleep."""
    if request.args.get("slow") == "1":
        end = time.perf_counter() + SLOW_SECONDS
        while time.perf_counter() < end:
            pass
    return jsonify(endpoint=number, pid=os.getpid())


for _number in range(ENDPOINTS):
    app.add_url_rule(f"/ep{_number:02d}", f"ep{_number:02d}", endpoint,
                     defaults={"number": _number})


@app.get("/_stats")
def stats() -> Response:
    """This worker's counters and pid. The short hold keeps the worker busy so that a few
    concurrent reads land on different workers; the snapshot is taken before this request
    ends, so the request itself is never in it."""
    time.sleep(STATS_HOLD_SECONDS)
    return jsonify(pid=os.getpid(), stats=WPM.get_monitor(app).get_stats())
