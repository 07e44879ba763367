"""flask_wpm: web-performance-monitor as a Flask extension.

    app.config["WPM_THRESHOLD_SECONDS"] = 1.0
    wpm = WPM(app)            # or: wpm = WPM(); wpm.init_app(app)

Every ``Config`` field is read from ``app.config["WPM_<FIELD>"]`` once, at ``init_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, got_request_exception, request
from werkzeug.wrappers import Response
from werkzeug.wsgi import ClosingIterator

from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.adapter import (
    ERROR_KEY,
    ROUTE_KEY,
    STATUS_KEY,
    UNMATCHED_ROUTE,
    WSGIMiddleware,
    framework_label,
)

from .cli import wpm_cli
from .state import EXTENSION_KEY, WPMState, get_monitor

__all__ = ["WPM", "FlaskMiddleware", "WPMState"]

class FlaskMiddleware(WSGIMiddleware):
    """The WSGI middleware, reading Flask's request facts where they cost least.

    Flask calls ``start_response`` inside the request context, before it pops: the request
    object is still in ``environ["werkzeug.request"]`` with its ``url_rule``. No
    ``after_request`` hook: Flask's hook dispatch (``ensure_sync``) alone cost more than all of
    this.
    """

    def responder(self, environ: dict[str, Any],
                  start_response: Callable[..., Any]) -> Callable[..., Any]:
        def _start_response(status: str, headers: list[tuple[str, str]],
                            exc_info: Any = None) -> Any:
            environ[STATUS_KEY] = status
            _note_route(environ)
            return start_response(status, headers, exc_info)

        return _start_response

    @staticmethod
    def body_in_memory(result: Any) -> bool:
        """werkzeug's own answer: ``not response.is_streamed`` (a header cannot tell: a
        streamed response may carry a ``Content-Length``).

        A werkzeug ``Response`` hands the server a ``ClosingIterator`` whose last callback is
        the response's ``close``: that is the response itself. Anything else (a file wrapper,
        a foreign iterable) is left to the generic rules.
        """
        if type(result) is ClosingIterator:
            owner = getattr(result._callbacks[-1], "__self__", None)
            # The common case without a call: a body set in memory is a list (``set_data``).
            if type(getattr(owner, "response", None)) is list:
                return True
            return _response_in_memory(result, 4)
        return WSGIMiddleware.body_in_memory(result)


def _response_in_memory(body: ClosingIterator, depth: int) -> bool:
    """Whether the werkzeug response behind ``body`` has its body in memory.

    An error page (404, ``abort()``, an unhandled exception) reaches Flask as an exception
    whose response Flask wraps again (``force_type``): its body is the inner response's
    iterator, itself closed through another ``ClosingIterator``. Followed ``depth`` levels.
    """
    owner = getattr(body._callbacks[-1], "__self__", None)
    if type(owner) is ClosingIterator:
        return depth > 1 and _response_in_memory(owner, depth - 1)
    if not isinstance(owner, Response):
        return False
    inner = owner.response
    if type(inner) is ClosingIterator:
        return depth > 1 and _response_in_memory(inner, depth - 1)
    return not owner.is_streamed


def _note_route(environ: dict[str, Any]) -> None:
    """The URL rule of the request Flask is handling (its request object is in the environ),
    as served: blueprints' ``url_prefix`` are in the rule already (Flask joins them when it
    registers it), the mount point (``SCRIPT_NAME``: a ``DispatcherMiddleware`` prefix, a
    proxy's) is put before it."""
    try:  # no rule (404, 405): an exception only on those, nothing to check on the others
        rule: str = environ["werkzeug.request"].url_rule.rule
    except (KeyError, AttributeError):
        environ[ROUTE_KEY] = UNMATCHED_ROUTE
        return
    script = environ.get("SCRIPT_NAME")
    environ[ROUTE_KEY] = script.rstrip("/") + rule if script else rule


def _note_failure(sender: Flask, exception: BaseException, **extra: Any) -> None:
    """``got_request_exception``: keep the exception (Flask answers it with a 500 page, so the
    middleware never sees it raised) and the route (one that propagates never reaches
    ``start_response``)."""
    request.environ[ERROR_KEY] = exception
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
        # The app's name is the service's default: its import name (a script's file name
        # when run as __main__), as Flask itself names the app.
        monitor = PerformanceMonitor(config, service=app.name,
                                     framework=framework_label("Flask", "flask"))
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
