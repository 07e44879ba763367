"""``PerformanceMiddleware``: pure ASGI 3 middleware for FastAPI, Starlette and any ASGI app.

    app.add_middleware(PerformanceMiddleware, monitor=monitor)   # FastAPI / Starlette
    app = monitor.create_asgi_middleware()(app)                  # plain ASGI

Only ``http`` scopes are watched; ``websocket`` and ``lifespan`` pass through untouched. The
request body reaches the app through a wrapped ``receive`` (a bounded prefix is kept for the
report); response messages are forwarded as they come, so streaming stays unbuffered, and the
request ends with the last body chunk. Each request runs in its own task, so its profile holds
its own coroutines: time spent while a neighbour runs shows as ``[await]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .events import SlowDetails
from .identity import framework_of, service_of
from .paths import endpoint_path, known_endpoint, served_route
from .request import RequestRecord
from .streaming import once

if TYPE_CHECKING:
    from .monitor import PerformanceMonitor

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def full_path(scope: Scope) -> str:
    """The path as the client sent it: ``root_path`` included. Servers following the ASGI
    spec since 2.4 (uvicorn 0.26+) put it in ``path`` already; older ones leave it out."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path if not root or path.startswith(root) else root + path


def route_of(scope: Scope) -> str | None:
    """The route template as served, prefixes included (``paths.served_route``).

    Starlette and FastAPI leave the innermost route in ``scope["route"]``; its template lacks
    the prefix of a ``Mount`` (that is in ``root_path``) and, from FastAPI 0.165, of an
    included router, which the served path still has.
    """
    route = scope.get("route")
    raw = getattr(route, "path", None)
    template = getattr(route, "path_format", None) or raw
    if not template:
        return None
    return served_route(str(template), full_path(scope), scope.get("path_params"),
                        ":path}" in str(raw))


def record_from_scope(scope: Scope, body: bytes, seen: int, cap: int) -> RequestRecord:
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1"))
               for k, v in scope.get("headers", [])]
    client = scope.get("client")
    return RequestRecord(
        method=scope.get("method", "GET"),
        path=full_path(scope),
        route=route_of(scope),
        query_string=bytes(scope.get("query_string", b"")).decode("utf-8", "replace"),
        headers=headers,
        client=str(client[0]) if client else None,
        body=body,
        body_size=seen,
        path_params=scope.get("path_params"),  # Starlette/FastAPI: the path's values by name
    )


class PerformanceMiddleware:
    """Times each ``http`` request of the ASGI app it wraps.

    Names the monitor after that app (``PerformanceMonitor.identify``): the module of the
    app or of its routes' endpoints, and "FastAPI x" / "Starlette x" / "ASGI". Starlette builds
    its middleware stack at the first event (the lifespan startup under a server).
    """

    def __init__(self, app: ASGIApp, monitor: PerformanceMonitor) -> None:
        self.app = app
        self.monitor = monitor
        monitor.identify(service_of(app), framework_of(app, "ASGI"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        monitor = self.monitor
        if scope["type"] != "http" or not monitor.enabled:
            await self.app(scope, receive, send)
            return
        cap = monitor.config.max_body_bytes
        kept = bytearray()
        seen = 0
        status: int | None = None
        span = monitor.begin()

        def describe(_monitor: PerformanceMonitor, _: None) -> SlowDetails:
            return SlowDetails(path=full_path(scope), route=route_of(scope), status=status,
                               record=record_from_scope(scope, bytes(kept), seen, cap))

        @once
        def finish(error: BaseException | None) -> None:
            monitor.finish(span, "request", scope.get("method", "GET"),
                           route_of(scope) or known_endpoint(scope.get("path", ""))
                           or endpoint_path(scope.get("path", "")), error, describe, None)

        async def receive_and_keep() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if len(kept) < cap:
                    kept.extend(chunk[: cap - len(kept)])
            return message

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finish(None)

        try:
            await self.app(scope, receive_and_keep, send_and_watch)
        except BaseException as exc:
            finish(exc)
            raise
        finish(None)
