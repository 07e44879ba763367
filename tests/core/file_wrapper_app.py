"""A plain WSGI app behind ``create_middleware()`` that sends a file through the server's
``wsgi.file_wrapper``; ``gunicorn_sendfile.py`` beside it records how gunicorn sent it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from web_performance_monitor import Config, PerformanceMonitor

monitor = PerformanceMonitor(Config.from_env())


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/stats":
        body = json.dumps(monitor.get_stats()["endpoints"]).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    time.sleep(0.1)  # the app's own work before it hands the file over
    path = os.environ["TEST_FILE"]
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(os.path.getsize(path)))])
    return environ["wsgi.file_wrapper"](open(path, "rb"), 8192)  # the server closes it


app = monitor.create_middleware()(application)
