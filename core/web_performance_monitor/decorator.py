"""``monitor.create_decorator()``: the same timing and alerting for any function.

The endpoint is the function's qualified name. Arguments are only looked at when the call was
slow, and then masked by parameter name like any request field.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .events import SlowDetails
from .profiling import request_boundary

if TYPE_CHECKING:
    from .monitor import PerformanceMonitor

F = TypeVar("F", bound=Callable[..., Any])


def monitored(get_monitor: Callable[[], PerformanceMonitor], func: F, threshold: float | None,
              name: str | None) -> F:
    """Wrap ``func`` (sync or async) so each call is timed, and profiled when slow.

    The monitor is looked up at each call, so adapters whose monitor follows settings
    (``django_wpm`` under ``override_settings``) can share this wrapper.
    """
    from .monitor import describe_call

    endpoint = name or f"{func.__module__}.{func.__qualname__}"

    def describe(monitor: PerformanceMonitor,
                 subject: tuple[tuple[Any, ...], dict[str, Any]]) -> SlowDetails:
        args, kwargs = subject
        return SlowDetails(path=endpoint, route=endpoint,
                           call=describe_call(func, args, kwargs, monitor.masker))

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            monitor = get_monitor()
            if not monitor.enabled:
                return await func(*args, **kwargs)
            span, error = monitor.begin(False), None
            try:
                return await func(*args, **kwargs)
            except BaseException as exc:
                error = exc
                raise
            finally:
                monitor.finish(span, "function", "CALL", endpoint, error, describe,
                               (args, kwargs), threshold)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    @request_boundary
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        monitor = get_monitor()
        if not monitor.enabled:
            return func(*args, **kwargs)
        span, error = monitor.begin(False), None
        try:
            return func(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            monitor.finish(span, "function", "CALL", endpoint, error, describe,
                           (args, kwargs), threshold)

    return wrapper  # type: ignore[return-value]
