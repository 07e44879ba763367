"""flask_wpm: web-performance-monitor as a Flask extension.

    app.config["WPM_THRESHOLD_SECONDS"] = 1.0
    wpm = WPM(app)            # or: wpm = WPM(); wpm.init_app(app)

Every ``Config`` field is read from ``app.config["WPM_<FIELD>"]`` once, at ``init_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, got_request_exception, request

from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.adapter import (
    BODY_COMPLETE_KEY,
    ROUTE_KEY,
    STATUS_KEY,
    UNMATCHED_ROUTE,
    WSGIMiddleware,
)

from .cli import wpm_cli
from .state import EXTENSION_KEY, WPMState, get_monitor

__all__ = ["WPM", "FlaskMiddleware", "WPMState"]

class FlaskMiddleware(WSGIMiddleware):
    """The WSGI middleware, reading Flask's request facts where they cost least.

    Flask calls ``start_response`` inside the request context, before it pops: the request
    object is still in ``environ["werkzeug.request"]`` with its ``url_rule``. A response whose
    ``Content-Length`` werkzeug set has its body in memory (a streamed one has none), so the
    request ends when the app returns. No ``after_request`` hook: Flask's hook dispatch
    (``ensure_sync``) alone cost more than all of this.
    """

    def responder(self, environ: dict[str, Any],
                  start_response: Callable[..., Any]) -> Callable[..., Any]:
        def _start_response(status: str, headers: list[tuple[str, str]],
                            exc_info: Any = None) -> Any:
            environ[STATUS_KEY] = status
            _note_route(environ)
            # Error pages (404, 405, abort()) are rendered already, whatever their headers.
            if status[0] in "45":
                environ[BODY_COMPLETE_KEY] = True
            else:
                for name, _ in headers:  # a handful of headers: a plain loop, no genexpr
                    if name == "Content-Length":
                        environ[BODY_COMPLETE_KEY] = True
                        break
            return start_response(status, headers, exc_info)

        return _start_response


def _note_route(environ: dict[str, Any]) -> None:
    """The URL rule of the request Flask is handling (its request object is in the environ)."""
    try:  # no rule (404, 405): an exception only on those, nothing to check on the others
        environ[ROUTE_KEY] = environ["werkzeug.request"].url_rule.rule
    except (KeyError, AttributeError):
        environ[ROUTE_KEY] = UNMATCHED_ROUTE


def _note_failure(sender: Flask, **extra: Any) -> None:
    """An exception that propagates never reaches ``start_response``: keep its route."""
    _note_route(request.environ)


class WPM:
    """The Flask extension. Holds no app: one instance can serve several apps (factories)."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Validate ``WPM_*`` config (``ConfigError`` names the bad key) and wrap the app."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(
                "A 'WPM' instance has already been registered on this Flask app. Import and "
                "use that instance instead."
            )
        config = Config.from_prefixed(
            app.config, label=lambda name: f'app.config["WPM_{name.upper()}"]')
        monitor = PerformanceMonitor(config)
        app.extensions[EXTENSION_KEY] = WPMState(monitor)
        app.wsgi_app = FlaskMiddleware(app.wsgi_app, monitor)  # type: ignore[method-assign]
        # Only sent for failures: costs nothing on other requests.
        got_request_exception.connect(_note_failure, app, weak=False)
        app.cli.add_command(wpm_cli)

    @staticmethod
    def get_monitor(app: Flask | None = None) -> PerformanceMonitor:
        """The monitor of ``app`` (default: the current app)."""
        return get_monitor(app)

    @property
    def monitor(self) -> PerformanceMonitor:
        """The current app's monitor (needs an app context)."""
        return self.get_monitor()
