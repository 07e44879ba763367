"""``PerformanceMonitorMiddleware``: sync and async capable, first in ``MIDDLEWARE``.

Under WSGI it runs synchronously, under ASGI natively async: Django never has to adapt it, so no
thread or event-loop hop is added. Only the translation from Django's request and response to
the core's record lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import FileResponse, HttpRequest, HttpResponseBase

from web_performance_monitor import PerformanceMonitor, RequestRecord
from web_performance_monitor.adapter import (
    UNMATCHED_ROUTE,
    SlowDetails,
    Span,
    once,
    request_boundary,
    timed_aiter,
    timed_iter,
    wsgi_text,
)

from .conf import get_monitor

# Where ``process_exception`` keeps the exception a view raised (Django answers it with a 500
# page: the middleware never sees it raised).
_ERROR_ATTRIBUTE = "_wpm_exception"


def _route(request: HttpRequest) -> str:
    """The URL pattern as served: Django joins the ``include()`` prefixes into
    ``ResolverMatch.route`` (``api/v1/users/<int:uid>/``); a script prefix (the mount point:
    ``SCRIPT_NAME``, ``FORCE_SCRIPT_NAME``) goes before it (``/shop/users/<int:uid>/``)."""
    match = request.resolver_match  # None until the URL resolved (and when it did not)
    if match is None:
        return UNMATCHED_ROUTE
    route: str = match.route or match._func_path
    path, path_info = request.path, request.path_info
    if len(path) != len(path_info) and path.endswith(path_info):
        return f"{path[: len(path) - len(path_info)].rstrip('/')}/{route}"
    return route


def _record(request: HttpRequest, cap: int) -> RequestRecord:
    """The core's record of a Django request; touches only what the view already read."""
    meta = request.META
    body: bytes | None = request.__dict__.get("_body")
    form = files = None
    if body is None and "_files" in request.__dict__:  # a multipart form the view parsed
        form = [(k, str(v)) for k, values in request.POST.lists() for v in values]
        files = [{"field": k, "filename": f.name, "content_type": f.content_type, "size": f.size}
                 for k, uploads in request.FILES.lists() for f in uploads]
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        declared = None
    size = declared if body is None else max(declared or 0, len(body))
    return RequestRecord(
        method=request.method or "GET",
        path=request.path,
        route=_route(request),
        query_string=wsgi_text(meta.get("QUERY_STRING", "")),
        headers=[(k.lower(), v) for k, v in request.headers.items()],
        client=meta.get("REMOTE_ADDR"),
        body=body[:cap] if body is not None else None,
        body_size=size,
        form=form,
        files=files,
        path_params=dict(request.resolver_match.kwargs) if request.resolver_match else None,
    )


def _describe(monitor: PerformanceMonitor,
              subject: tuple[HttpRequest, int | None]) -> SlowDetails:
    """A slow request's details (``subject``: the request and its status)."""
    request, status = subject
    return SlowDetails(path=request.path, route=_route(request), status=status,
                       record=_record(request, monitor.config.max_body_bytes),
                       error=request.__dict__.get(_ERROR_ATTRIBUTE))


def _finish(monitor: PerformanceMonitor, span: Span, request: HttpRequest, status: int | None,
            error: BaseException | None) -> None:
    monitor.finish(span, "request", request.method or "GET", _route(request), error, _describe,
                   (request, None if error is not None else status))


def _complete(monitor: PerformanceMonitor, span: Span, request: HttpRequest,
              response: HttpResponseBase) -> HttpResponseBase:
    # A streamed body is timed to its last chunk; a FileResponse is handed to the server's
    # sendfile as it is, so it ends here.
    if response.streaming and not isinstance(response, FileResponse):
        finish = once(partial(_finish, monitor, span, request, response.status_code))
        content = response.streaming_content
        if getattr(response, "is_async", False):
            response.streaming_content = timed_aiter(content, finish)
        else:
            response.streaming_content = timed_iter(content, finish)
    else:
        _finish(monitor, span, request, response.status_code, None)
    return response


class PerformanceMonitorMiddleware:
    """Times every request, profiles the slow ones, alerts once per endpoint."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        get_monitor()  # invalid settings fail here, when Django loads the middleware

    @request_boundary
    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        monitor = get_monitor()
        if not monitor.enabled:
            return self.get_response(request)
        span = monitor.begin()
        try:
            response = self.get_response(request)
        except BaseException as exc:
            _finish(monitor, span, request, None, exc)
            raise
        return _complete(monitor, span, request, response)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Django's hook for a view's exception (called only for failures): note it for the
        report, and let Django answer it as it would (``None``)."""
        request.__dict__[_ERROR_ATTRIBUTE] = exception

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        monitor = get_monitor()
        if not monitor.enabled:
            return await self.get_response(request)
        span = monitor.begin()
        try:
            response = await self.get_response(request)
        except BaseException as exc:
            _finish(monitor, span, request, None, exc)
            raise
        return _complete(monitor, span, request, response)
