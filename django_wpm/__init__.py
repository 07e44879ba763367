"""django_wpm: web-performance-monitor as a Django app.

    INSTALLED_APPS = [..., "django_wpm"]
    MIDDLEWARE = ["django_wpm.middleware.PerformanceMonitorMiddleware", ...]   # first
    WPM = {"THRESHOLD_SECONDS": 1.0, "LOCAL_OUTPUT_DIR": "/var/log/performance"}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from web_performance_monitor.adapter import monitored

from .conf import get_monitor

__all__ = ["get_monitor", "monitor_function"]

F = TypeVar("F", bound=Callable[..., Any])


@overload
def monitor_function(func: F) -> F: ...


@overload
def monitor_function(
    func: None = None, *, threshold_seconds: float | None = None, name: str | None = None
) -> Callable[[F], F]: ...


def monitor_function(
    func: F | None = None, *, threshold_seconds: float | None = None, name: str | None = None
) -> F | Callable[[F], F]:
    """Monitor a function or coroutine function with the project's monitor.

    The monitor is looked up at each call, so ``override_settings(WPM=...)`` applies.
    """
    if func is not None:
        return monitored(get_monitor, func, threshold_seconds, name)
    return lambda fn: monitored(get_monitor, fn, threshold_seconds, name)
