"""The same app four times: plain, behind a no-op middleware, with this monitor, with
per-request pyinstrument.

The no-op middleware is the floor of issue 18: the least any middleware of the same framework
costs (a call through one more layer), so the monitor is judged by its added time against that
floor, measured side by side in the same run (``bench/judgement.py``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import pyinstrument

from bench.workloads import WORKLOADS, slow

VARIANTS = ("plain", "noop", "wpm", "naive-pyinstrument")
REPORT_DIR = tempfile.mkdtemp(prefix="wpm-bench-")
# Never slow in the overhead runs: the monitor's steady-state cost is what is measured.
WPM_SETTINGS = {"THRESHOLD_SECONDS": 10.0, "LOCAL_OUTPUT_DIR": REPORT_DIR,
                "ALERT_STORE_URL": "memory://"}


def monitor_config() -> Any:
    from web_performance_monitor import Config

    return Config(**{key.lower(): value for key, value in WPM_SETTINGS.items()})


class NoopWSGI:
    """The floor for WSGI: one more layer that passes the call and its result through."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return self.app(environ, start_response)


class NaiveWSGI:
    """What most recipes do: a pyinstrument Profiler started and stopped around each request.

    ``profiled`` counts the requests it profiled, so ``make bench-peers`` can check it ran.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.profiled = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        profiler = pyinstrument.Profiler()
        profiler.start()
        try:
            return list(self.app(environ, start_response))
        finally:
            profiler.stop()
            self.profiled += 1


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
    elif variant == "noop":
        app.wsgi_app = NoopWSGI(app.wsgi_app)  # type: ignore[method-assign]
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
    elif variant == "noop":  # the floor: Sanic's own cost of running a middleware pair
        async def noop_request(request: Any) -> None:
            pass

        async def noop_response(request: Any, response: Any) -> None:
            pass

        app.on_request(noop_request, priority=10_000)
        app.on_response(noop_response, priority=-10_000)
    elif variant == "naive-pyinstrument":
        @app.on_request
        async def start(request: Any) -> None:
            request.ctx.profiler = pyinstrument.Profiler(async_mode="enabled")
            request.ctx.profiler.start()

        @app.on_response
        async def stop(request: Any, response: Any) -> None:
            request.ctx.profiler.stop()
    return app


# --- ASGI (FastAPI, on Starlette) -----------------------------------------------------

class NoopASGI:
    """The floor for ASGI: one more layer that awaits the app with the same three arguments."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class NaiveASGI:
    """Per-request pyinstrument for ASGI: an async-aware Profiler around each http request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        profiler = pyinstrument.Profiler(async_mode="enabled")
        profiler.start()
        try:
            await self.app(scope, receive, send)
        finally:
            profiler.stop()


def asgi_app(variant: str) -> Any:
    """A FastAPI app; every middleware is added the way its users add one (``add_middleware``)."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from web_performance_monitor import PerformanceMonitor
    from web_performance_monitor.asgi import PerformanceMiddleware

    def endpoint_of(work: Callable[[], str]) -> Callable[[], Any]:
        async def endpoint() -> PlainTextResponse:  # async: on the loop, no thread pool hop
            return PlainTextResponse(work())

        return endpoint

    app = FastAPI()
    for name, work in WORKLOADS.items():
        app.add_api_route(f"/{name}", endpoint_of(work), methods=["GET"])
    if variant == "wpm":
        app.add_middleware(PerformanceMiddleware, monitor=PerformanceMonitor(monitor_config()))
    elif variant == "noop":
        app.add_middleware(NoopASGI)
    elif variant == "naive-pyinstrument":
        app.add_middleware(NaiveASGI)
    return app


# --- Django: one settings module, four middleware stacks --------------------------------

class NoopDjangoMiddleware:
    """The floor for Django: sync and async capable, passes the request through.

    Built like django-cors-headers' middleware: the handler adapts nothing, because this layer
    answers in the mode of the layer below it.
    """

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
        return self.get_response(request)

    async def __acall__(self, request: Any) -> Any:
        return await self.get_response(request)


class NaiveDjangoMiddleware(NoopDjangoMiddleware):
    """pyinstrument's own Django middleware pattern, reduced to its profiling part."""

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
    "noop": ["bench.variants.NoopDjangoMiddleware"],
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
