"""sanic_wpm: web-performance-monitor for Sanic, the Sanic way.

    app.config.WPM_THRESHOLD_SECONDS = 0.5     # or SANIC_WPM_THRESHOLD_SECONDS in the environment
    WPM(app)                                   # or: wpm = WPM(); wpm.init_app(app)

``init_app`` fills in defaults for the ``WPM_*`` keys the user did not set, validates them (a
bad value raises ``ConfigError`` naming the key) and registers a ``before_server_start``
listener that builds each worker process's monitor, an ``after_server_stop`` listener that
flushes and closes it, and request/response middleware. State lives on ``app.ctx.wpm``.

A handler's exception: Sanic answers it with an error response whose middleware runs inside
Sanic's ``except`` block, so the response middleware of an error status reads it from
``sys.exc_info()`` (no signal handler: registering one cost every request ~3%).

A streaming response (``response = await request.respond()``, then ``response.send(...)``)
runs the response middleware before its body exists: its request ends when Sanic has sent
the last chunk, after the handler returned.
"""

from __future__ import annotations

import asyncio
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import Any

from sanic import HTTPResponse, Request, Sanic
from sanic.http import Stage

from web_performance_monitor import Config, PerformanceMonitor, RequestRecord
from web_performance_monitor.adapter import UNMATCHED_ROUTE, SlowDetails, Span, framework_label

__all__ = ["WPM", "WPMState"]

AnySanic = Sanic[Any, Any]

# Outermost: our request middleware runs before the app's, our response middleware after.
_PRIORITY = 10_000
# The running request's span. Sanic awaits a request's middleware and handler in one task,
# so one context holds it from on_request to on_response; unlike request.ctx, it costs no
# allocation on apps that never touch ctx.
_span: ContextVar[Span | None] = ContextVar("wpm_sanic_span", default=None)
_SENT = (Stage.IDLE, Stage.FAILED)


@dataclass
class WPMState:
    """What ``app.ctx.wpm`` holds. ``monitor`` exists from ``before_server_start`` on.

    Its two methods are the request and response middleware: bound to the state, they reach
    the monitor with one attribute read per request.
    """

    config: Config
    monitor: PerformanceMonitor | None = None

    async def on_request(self, request: Request) -> None:
        monitor = self.monitor
        # Sanic runs the request middleware again to answer a handler's exception: the
        # request that failed is still the one being timed.
        if monitor is not None and monitor.enabled and _span.get() is None:
            _span.set(monitor.begin())

    async def on_response(self, request: Request, response: HTTPResponse) -> None:
        span = _span.get()
        monitor = self.monitor
        if span is None or monitor is None:
            return
        _span.set(None)
        # An error response to a handler's exception is made inside Sanic's ``except`` block.
        error = sys.exc_info()[1] if response.status >= 400 else None
        route = request.route  # request.uri_template, without its property call
        where = f"/{route.path}" if route is not None else UNMATCHED_ROUTE
        if not response.body and _responded_by_handler():
            _finish_when_sent(monitor, span, request, response, where, error)
            return
        monitor.finish(span, "request", request.method, where, error, _describe,
                       (request, response.status))


def _responded_by_handler() -> bool:
    """Whether this response middleware runs inside a handler's own ``request.respond()``
    (a streaming response, whose body the handler is about to send), rather than Sanic's
    (a response the handler returned). Asked only for responses without a body."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return False
        if frame.f_code is _RESPOND:
            caller = frame.f_back
            return caller is not None and caller.f_code not in _SANIC_RESPONDERS
        frame = frame.f_back
    return False


def _finish_when_sent(monitor: PerformanceMonitor, span: Span, request: Request,
                      response: HTTPResponse, where: str, error: BaseException | None) -> None:
    """End a streamed request once Sanic has sent its last chunk (the handler returned).

    Sanic offers no per-request hook there that is free for other requests (a signal costs
    every request more than the whole monitor), so the stream's stage is looked at on the
    loop: after 5 ms, then every 5% of the time elapsed (at most every second), so the end is
    known within 5% of the duration, at a few wake-ups per stream.
    """
    loop = asyncio.get_running_loop()
    stream = response.stream
    started = loop.time()

    def check() -> None:
        if response.stream is stream and stream is not None and stream.stage not in _SENT:
            loop.call_later(min(max((loop.time() - started) / 20, 0.005), 1.0), check)
            return
        monitor.finish(span, "request", request.method, where, error, _describe,
                       (request, response.status))

    loop.call_later(0.005, check)


_RESPOND = Request.respond.__code__
_SANIC_RESPONDERS = {Sanic.handle_request.__code__, Sanic.handle_exception.__code__}


def _describe(monitor: PerformanceMonitor, subject: tuple[Request, int]) -> SlowDetails:
    """A slow request's details (``subject``: the request and its status)."""
    request, status = subject
    return SlowDetails(path=request.path, route=request.uri_template, status=status,
                       record=_record(request, monitor.config.max_body_bytes))


def _record(request: Request, cap: int) -> RequestRecord:
    body = request.body or b""
    return RequestRecord(
        method=request.method,
        path=request.path,
        route=request.uri_template,
        query_string=request.query_string,
        headers=[(k.lower(), v) for k, v in request.headers.items()],
        client=request.ip or None,
        body=body[:cap],
        body_size=len(body),
        path_params=dict(request.match_info),
    )


class WPM:
    """The Sanic extension; ``WPM.get_monitor(app)`` is the running worker's monitor."""

    def __init__(self, app: AnySanic | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: AnySanic) -> None:
        if hasattr(app.ctx, "wpm"):
            raise RuntimeError("WPM is already registered on this Sanic app.")
        config = Config.from_prefixed(  # never overwrites what the user or SANIC_WPM_* set
            app.config, label=lambda name: f"app.config.WPM_{name.upper()}")
        app.ctx.wpm = state = WPMState(config=config)
        app.register_listener(self._start, "before_server_start")
        app.register_listener(self._stop, "after_server_stop")
        app.on_request(state.on_request, priority=_PRIORITY)
        app.on_response(state.on_response, priority=-_PRIORITY)  # type: ignore[no-untyped-call]

    @staticmethod
    def get_monitor(app: AnySanic) -> PerformanceMonitor:
        state: WPMState | None = getattr(app.ctx, "wpm", None)
        if state is None:
            raise RuntimeError(f"the Sanic app {app.name!r} is not registered with WPM: did you "
                               "forget to call WPM(app) or wpm.init_app(app)?")
        monitor = state.monitor
        if monitor is None:
            raise RuntimeError("the monitor starts with the server (before_server_start)")
        return monitor

    @staticmethod
    async def _start(app: AnySanic) -> None:
        state: WPMState = app.ctx.wpm
        if state.monitor is None:  # one per worker process, kept across server restarts
            state.monitor = PerformanceMonitor(state.config, service=app.name,
                                               framework=framework_label("Sanic", "sanic"))
        state.monitor.start()

    @staticmethod
    async def _stop(app: AnySanic) -> None:
        state: WPMState = app.ctx.wpm
        if state.monitor is not None:
            state.monitor.close()
