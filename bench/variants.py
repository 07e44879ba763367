"""The same app three times: plain, with this monitor, with per-request pyinstrument."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import pyinstrument

from bench.workloads import WORKLOADS, slow

VARIANTS = ("plain", "wpm", "naive-pyinstrument")
REPORT_DIR = tempfile.mkdtemp(prefix="wpm-bench-")
# Never slow in the overhead runs: the monitor's steady-state cost is what is measured.
WPM_SETTINGS = {"THRESHOLD_SECONDS": 10.0, "LOCAL_OUTPUT_DIR": REPORT_DIR,
                "ALERT_STORE_URL": "memory://"}


class NaiveWSGI:
    """What most recipes do: a pyinstrument Profiler started and stopped around each request."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        profiler = pyinstrument.Profiler()
        profiler.start()
        try:
            return list(self.app(environ, start_response))
        finally:
            profiler.stop()


def flask_app(variant: str) -> Any:
    from flask import Flask

    from flask_wpm import WPM

    app = Flask(f"bench-{variant}")
    for name, work in WORKLOADS.items():
        app.add_url_rule(f"/{name}", name, work)
    app.add_url_rule("/slow", "slow", slow)
    if variant == "wpm":
        app.config.update({f"WPM_{k}": v for k, v in WPM_SETTINGS.items()})
        WPM(app)
    elif variant == "naive-pyinstrument":
        app.wsgi_app = NaiveWSGI(app.wsgi_app)  # type: ignore[method-assign]
    return app


def sanic_app(variant: str) -> Any:
    from sanic import Sanic, text

    from sanic_wpm import WPM

    Sanic.test_mode = True
    app = Sanic(f"bench_{variant.replace('-', '_')}")
    for name, work in WORKLOADS.items():
        def handler(request: Any, work: Callable[[], str] = work) -> Any:
            return text(work())

        async def ahandler(request: Any, handler: Any = handler) -> Any:
            return handler(request)

        app.add_route(ahandler, f"/{name}", name=name.replace("-", "_"))
    if variant == "wpm":
        for key, value in WPM_SETTINGS.items():
            app.config[f"WPM_{key}"] = value
        WPM(app)
    elif variant == "naive-pyinstrument":
        @app.on_request
        async def start(request: Any) -> None:
            request.ctx.profiler = pyinstrument.Profiler(async_mode="enabled")
            request.ctx.profiler.start()

        @app.on_response
        async def stop(request: Any, response: Any) -> None:
            request.ctx.profiler.stop()
    return app


# --- Django: one settings module, three middleware stacks -------------------------------

class NaiveDjangoMiddleware:
    """pyinstrument's own Django middleware pattern, reduced to its profiling part."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction

        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        profiler = pyinstrument.Profiler()
        profiler.start()
        try:
            return self.get_response(request)
        finally:
            profiler.stop()

    async def __acall__(self, request: Any) -> Any:
        profiler = pyinstrument.Profiler(async_mode="enabled")
        profiler.start()
        try:
            return await self.get_response(request)
        finally:
            profiler.stop()


DJANGO_MIDDLEWARE = {
    "plain": [],
    "wpm": ["django_wpm.middleware.PerformanceMonitorMiddleware"],
    "naive-pyinstrument": ["bench.variants.NaiveDjangoMiddleware"],
}


def setup_django() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["*"], ROOT_URLCONF="bench.django_urls",
        INSTALLED_APPS=["django_wpm"], MIDDLEWARE=[], USE_TZ=True,
        WPM={key: value for key, value in WPM_SETTINGS.items()},
        DATABASES={},
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "")
    django.setup()
