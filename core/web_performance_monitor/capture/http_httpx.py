"""Outgoing calls through ``httpx``, sync and async.

httpx's own hooks (``event_hooks``, a custom transport) belong to one client each, and the
monitor must see every client the application makes. So, as OpenTelemetry's httpx
instrumentation does, the network transports' one entry point is wrapped:
``HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request``. A call is
one request and its response's headers (a redirect is a call of its own, as it is for
``http.client``); test transports (``MockTransport``, ``ASGITransport``, Starlette's
``TestClient``) make no network call and are not recorded. sentry-python wraps
``Client.send`` instead, which folds redirects and auth rounds into one call.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from .http_patch import Patch, monitored, start

__all__ = ["patches"]


def patches() -> list[Patch]:
    return [Patch(httpx.HTTPTransport, "handle_request", _handle_request),
            Patch(httpx.AsyncHTTPTransport, "handle_async_request", _handle_async_request)]


def _describe(request: httpx.Request) -> tuple[str, str, str]:
    """Method, URL without its credentials (``user:password@``: never kept), library."""
    url = request.url
    if url.userinfo:
        url = url.copy_with(userinfo=b"")
    return request.method, str(url), "httpx"


def _handle_request(real: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
    @functools.wraps(real)
    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if monitored() is None:
            return real(self, request)
        pending = start(sys._getframe(1), "status_code", _describe, request)
        if pending is None:
            return real(self, request)
        try:
            response = real(self, request)
        except BaseException as exc:
            pending.finish(None, exc)
            raise
        pending.finish(response, None)
        return response

    return handle_request


AsyncHandle = Callable[..., Coroutine[Any, Any, httpx.Response]]


def _handle_async_request(real: AsyncHandle) -> AsyncHandle:
    @functools.wraps(real)
    async def handle_async_request(self: httpx.AsyncHTTPTransport,
                                   request: httpx.Request) -> httpx.Response:
        if monitored() is None:
            return await real(self, request)
        pending = start(sys._getframe(), "status_code", _describe, request)
        if pending is None:
            return await real(self, request)
        try:
            response = await real(self, request)
        except BaseException as exc:
            pending.finish(None, exc)
            raise
        pending.finish(response, None)
        return response

    return handle_async_request
