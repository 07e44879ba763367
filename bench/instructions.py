"""Instructions per request under valgrind's callgrind: a deterministic cost, unlike seconds.

The machine is shared and noisy; instruction counts are the same run after run, so they show
what each part of the monitor costs on the request path (Flask; Django's WSGI handler; Sanic,
with its middleware machinery alone as a variant). For each variant the app serves N and
N + 1000 requests; the difference / 1000 is the cost of one request (start-up cancels out).

    python bench/instructions.py          # needs valgrind (apt-get install valgrind)
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# variant -> what is switched off in the monitored app, to attribute the cost.
VARIANTS = {
    "plain": "the bare Flask app",
    "wpm": "the monitored app (sampler engine)",
    "wpm-disabled": "monitor.disable_monitoring(): the middleware as a pass-through",
    "wpm-no-profiler": "a profiler that does nothing (cost of start/stop)",
    "wpm-no-stats": "statistics switched off (cost of recording and folding the counters)",
}
DJANGO_VARIANTS = {
    "django-plain": "the bare Django app (WSGI handler, sync view)",
    "django-wpm": "the monitored app",
}
SANIC_VARIANTS = {
    "sanic-plain": "the bare Sanic app (ASGI)",
    "sanic-noop": "a request/response middleware pair that does nothing (Sanic's own cost)",
    "sanic-wpm": "the monitored app",
}


def _sanic_block(variant: str) -> Any:
    from bench.drivers import ASGIDriver
    from bench.variants import sanic_app

    app = sanic_app("plain" if variant == "sanic-noop" else variant.removeprefix("sanic-"))
    if variant == "sanic-noop":
        async def on_request(request: Any) -> None:
            pass

        async def on_response(request: Any, response: Any) -> None:
            pass

        app.on_request(on_request, priority=10_000)
        app.on_response(on_response, priority=-10_000)
    return ASGIDriver(app, lifespan=True).block("/trivial")


def _django_block(variant: str) -> Any:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    from bench.drivers import wsgi_block
    from bench.variants import DJANGO_MIDDLEWARE, setup_django

    setup_django()
    with override_settings(MIDDLEWARE=DJANGO_MIDDLEWARE[variant.removeprefix("django-")]):
        return wsgi_block(WSGIHandler(), "/sync/trivial")


def _flask_block(variant: str) -> Any:
    from bench.drivers import wsgi_block
    from bench.variants import flask_app
    from flask_wpm import WPM
    from web_performance_monitor.profiling import Profiler

    app = flask_app("plain" if variant == "plain" else "wpm")
    if variant != "plain":
        monitor = WPM.get_monitor(app)
        if variant == "wpm-disabled":
            monitor.disable_monitoring()
        elif variant == "wpm-no-profiler":
            class Idle(Profiler):
                def begin(self, takeover: bool = True) -> Any:
                    now = time.perf_counter()
                    return (now, None, 0.0)

            monitor._profiler = idle = Idle(0.005)
            monitor.begin = idle.begin
        elif variant == "wpm-no-stats":  # every append is dropped: nothing to fold
            sink: deque[float] = deque(maxlen=0)
            monitor.stats.overheads = monitor._overheads = sink
            monitor._durations = {("request", "GET", "/trivial"): sink}
    return wsgi_block(app.wsgi_app, "/trivial")


def _child(variant: str, count: int) -> None:
    sys.path.insert(0, ROOT)
    import logging

    logging.disable(logging.CRITICAL)
    make = (_sanic_block if variant.startswith("sanic") else
            _django_block if variant.startswith("django") else _flask_block)
    block = make(variant)
    block(50)
    # Start-up objects out of the collector's sight: a full collection of them landing in one
    # variant's window would be counted as that variant's per-request cost.
    gc.collect()
    gc.freeze()
    block(count)


def _instructions(variant: str, count: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", variant, str(count)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"}).stderr  # same dict layouts every run
    match = re.search(r"refs:\s+([\d,]+)", out)
    assert match, out
    return int(match.group(1).replace(",", ""))


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    for title, variants in (("Flask", VARIANTS), ("Django", DJANGO_VARIANTS),
                            ("Sanic", SANIC_VARIANTS)):
        print(f"{title} /trivial, instructions per request (callgrind):")
        base = None
        for variant, meaning in variants.items():
            per_request = (_instructions(variant, 1200) - _instructions(variant, 200)) // 1000
            base = base or per_request
            print(f"  {variant:<16} {per_request:>9,}  {per_request - base:>+8,}  {meaning}",
                  flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
