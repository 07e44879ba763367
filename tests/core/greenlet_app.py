"""A plain WSGI app for greenlet servers: gevent's own (``gevent_server.py``) or gunicorn
``-k gevent`` (``greenlet_app:wsgi``). It does not patch anything itself: the server does.
The monitor comes from WPM_* environment variables; ``/_alerts`` tells what each profile holds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from tests.core.summaries import Summaries
from web_performance_monitor import Config, PerformanceMonitor


def burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def render_catalogue() -> None:
    for _ in range(6):  # CPU work between short (cooperative) sleeps
        burn(0.1)
        time.sleep(0.005)


def render_invoice() -> None:
    for _ in range(6):
        burn(0.1)
        time.sleep(0.005)


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/_alerts":
        monitor.flush()
        body = json.dumps(summaries.alerts).encode()
    else:
        {"/catalogue": render_catalogue, "/invoice": render_invoice}[path]()
        body = b"done"
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


monitor = PerformanceMonitor(Config.from_env())
summaries = Summaries()
monitor.add_notifier(summaries)
wsgi = monitor.create_middleware()(application)
