"""flask_wpm: web-performance-monitor as a Flask extension.

    app.config["WPM_THRESHOLD_SECONDS"] = 1.0
    wpm = WPM(app)            # or: wpm = WPM(); wpm.init_app(app)

Every ``Config`` field is read from ``app.config["WPM_<FIELD>"]`` once, at ``init_app``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, got_request_exception, request

from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.request import UNMATCHED_ROUTE
from web_performance_monitor.wsgi import BODY_COMPLETE_KEY, ROUTE_KEY, STATUS_KEY, WSGIMiddleware

from .cli import wpm_cli

__all__ = ["UNMATCHED_ROUTE", "WPM", "WPMState"]

EXTENSION_KEY = "wpm"


@dataclass
class WPMState:
    """What ``app.extensions["wpm"]`` holds: this app's own monitor."""

    extension: WPM
    monitor: PerformanceMonitor


def _note_route() -> dict[str, Any]:
    current = request._get_current_object()  # type: ignore[attr-defined]
    environ: dict[str, Any] = current.environ
    rule = current.url_rule
    environ[ROUTE_KEY] = rule.rule if rule is not None else UNMATCHED_ROUTE
    return environ


def _note_response(response: Response) -> Response:
    """An ``after_request`` hook (runs for every handled response, error pages included)."""
    environ = _note_route()
    environ[STATUS_KEY] = status = response.status_code
    # Error pages (404, 405, abort()) pass through force_type and look "streamed", but their
    # body is already rendered: only a successful streamed response is timed to its last chunk.
    # (``is_streamed`` without its property call: a rendered body is a list.)
    environ[BODY_COMPLETE_KEY] = status >= 400 or isinstance(response.response, (list, tuple))
    return response


def _note_failure(sender: Flask, **extra: Any) -> None:
    """An unhandled exception skips ``after_request``; keep the route for its endpoint."""
    _note_route()


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
        app.extensions[EXTENSION_KEY] = WPMState(self, monitor)
        # The hook below records the status: start_response needs no wrapper.
        app.wsgi_app = WSGIMiddleware(  # type: ignore[method-assign]
            app.wsgi_app, monitor, app_sets_status=True)
        # A plain after_request hook costs a function call; a connected signal costs more on
        # every request. got_request_exception is only sent for failures.
        app.after_request(_note_response)
        got_request_exception.connect(_note_failure, app, weak=False)
        app.cli.add_command(wpm_cli)

    @staticmethod
    def get_monitor(app: Flask | None = None) -> PerformanceMonitor:
        """The monitor of ``app`` (default: the current app)."""
        target = app if app is not None else current_app
        state: WPMState = target.extensions[EXTENSION_KEY]
        return state.monitor

    @property
    def monitor(self) -> PerformanceMonitor:
        """The current app's monitor (needs an app context)."""
        return self.get_monitor()
