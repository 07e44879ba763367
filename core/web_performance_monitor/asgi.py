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

import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .events import SlowDetails
from .identity import framework_of, service_of, timed_inside
from .paths import endpoint_path, fits, known_endpoint, served_route
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


# id of a Starlette router -> (the router, weakly; its routes by endpoint at any depth of
# mounts), for ``_route_by_endpoint``. By id: a ``Router`` defines ``__eq__``, so it is no key.
_routes_by_endpoint: dict[int, tuple[weakref.ref[Any], dict[Any, list[Any]]]] = {}


def _index_routes(routes: list[Any], table: dict[Any, list[Any]], depth: int = 0) -> None:
    for route in routes:
        inner = getattr(route, "routes", None)  # a Mount or Host: its routes, or its app's
        if inner and depth < 8:
            _index_routes(list(inner), table, depth + 1)
        # A mount is the route of the app it hands over to (a static folder: no routes)
        endpoint = getattr(route, "endpoint", None) if not inner else getattr(route, "app", None)
        if (endpoint is not None and getattr(type(endpoint), "__hash__", None)
                and getattr(route, "path_format", None)):
            table.setdefault(endpoint, []).append(route)


def _route_by_endpoint(scope: Scope) -> Any:
    """The route that served the request, for Starlette before 0.47 (FastAPI 0.115), whose
    router does not leave it in the scope: looked up by the ``endpoint`` it does leave, in an
    index of the outermost router's routes made once per router. Where one endpoint serves
    several routes, the one whose template fits the path."""
    endpoint, router = scope.get("endpoint"), scope.get("router")
    if endpoint is None or router is None:
        return None
    known = _routes_by_endpoint.get(id(router))
    if known is None or known[0]() is not router:
        table: dict[Any, list[Any]] = {}
        try:
            _index_routes(list(getattr(router, "routes", ())), table)
            known = (weakref.ref(router), table)
        except TypeError:  # a router without weak references: no template
            return None
        if len(_routes_by_endpoint) >= 64:  # routers made per test, per app factory call
            _routes_by_endpoint.clear()
        _routes_by_endpoint[id(router)] = known
    try:
        candidates = known[1].get(endpoint)
    except TypeError:
        return None
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    path = full_path(scope)
    return next((route for route in candidates if fits(str(route.path), path)), None)


def route_of(scope: Scope) -> str | None:
    """The route template as served, prefixes included (``paths.served_route``).

    Starlette and FastAPI leave the innermost route in ``scope["route"]`` (Starlette before
    0.47 only its endpoint: ``_route_by_endpoint``); its template lacks the prefix of a
    ``Mount`` (that is in ``root_path``) and, from FastAPI 0.165, of an included router, which
    the served path still has.
    """
    route = scope.get("route")
    if route is None:
        route = _route_by_endpoint(scope)
    raw = getattr(route, "path", None)
    template = getattr(route, "path_format", None) or raw
    if not template:
        return None
    wide = ":path}" in str(raw)
    path: str = scope.get("path", "")
    if not wide and not scope.get("root_path") and path.count("/") == template.count("/"):
        return str(template)  # no prefix (most apps): ``served_route``'s answer, without the
        # two Python calls (about 5,000 instructions per request under callgrind)
    return served_route(str(template), full_path(scope), scope.get("path_params"), wide)


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
        # The same monitor's middleware already inside: this one passes requests through.
        self.passes = timed_inside(app, monitor, PerformanceMiddleware)
        if self.passes:
            monitor.note_double_wrap()
        monitor.identify(service_of(app), framework_of(app, "ASGI"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        monitor = self.monitor
        if scope["type"] != "http" or not monitor.enabled or self.passes:
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
