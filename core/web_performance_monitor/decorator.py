"""``monitor.create_decorator()``: the same timing and alerting for any function.

The endpoint is the function's qualified name. Arguments are only looked at when the call was
slow, and then masked like any request field: by parameter name, at any depth, and by value.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .events import SlowDetails
from .masking import MASK, Masker
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


def describe_call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                  masker: Masker) -> dict[str, Any]:
    """The function's name and its arguments, masked like a JSON body, reprs clipped.

    Masked by parameter name (``password=S``, and every key of ``**kwargs``), at any depth
    (``{"card_number": S}``), and by value (a DSN ``postgresql://app:S@db/x``, ``token=S``
    inside a string, an object whose repr shows ``password='S'``).
    """
    info: dict[str, Any] = {"function": f"{func.__module__}.{func.__qualname__}"}
    try:
        bound = inspect.signature(func).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {f"arg{i}": a for i, a in enumerate(args)} | kwargs
    for key, value in bound.items():
        if masker.is_sensitive(key):
            info[f"argument {key}"] = MASK
            continue
        try:
            text = masker.text(repr(masker.value(value)))
        except Exception as exc:
            text = f"<repr failed: {type(exc).__name__}>"
        info[f"argument {key}"] = text if len(text) <= 300 else text[:300] + "..."
    return info
