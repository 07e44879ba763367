"""What a Flask app holds for the extension, and the lookup that explains a missing ``init_app``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from web_performance_monitor import PerformanceMonitor

EXTENSION_KEY = "wpm"


@dataclass
class WPMState:
    """What ``app.extensions["wpm"]`` holds: this app's own monitor."""

    monitor: PerformanceMonitor


def get_monitor(app: Flask | None = None) -> PerformanceMonitor:
    """The monitor of ``app`` (default: the current app).

    Raises ``RuntimeError`` when the app was never passed to ``WPM``/``init_app`` (the way
    flask-sqlalchemy explains a missing ``init_app``), or, without ``app``, outside an app context.
    """
    target = app if app is not None else current_app
    state: WPMState | None = target.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(
            "This Flask app is not registered with the 'WPM' extension. Did you forget to "
            "call 'WPM(app)' or 'init_app(app)', or did you create a new app after it?"
        )
    return state.monitor
