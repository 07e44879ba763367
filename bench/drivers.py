"""Minimal WSGI and ASGI drivers: one request = one call, nothing else measured."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import Any

Block = Callable[[int], float]  # run n requests, return seconds per request


def wsgi_block(app: Any, path: str) -> Block:
    base = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "b",
            "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(), "wsgi.multithread": False,
            "wsgi.multiprocess": False, "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "b"}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        assert status.startswith("200"), status
        return None

    def run(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO()
            result = app(environ, start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return (time.perf_counter() - started) / n

    return run


class ASGIDriver:
    """Runs an ASGI app's lifespan once, then requests, on one event loop."""

    def __init__(self, app: Any, lifespan: bool) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._events: asyncio.Queue[dict[str, Any]] | None = None
        if lifespan:
            self.loop.run_until_complete(self._startup())

    async def _startup(self) -> None:
        self._events = asyncio.Queue()
        started = asyncio.Event()

        async def receive() -> dict[str, Any]:
            assert self._events is not None
            return await self._events.get()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set()
            elif message["type"] == "lifespan.startup.failed":
                raise RuntimeError(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.ensure_future(self.app(scope, receive, send))
        await self._events.put({"type": "lifespan.startup"})
        await asyncio.wait_for(started.wait(), 30)

    def block(self, path: str) -> Block:
        scope_base = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                      "method": "GET", "scheme": "http", "path": path,
                      "raw_path": path.encode(), "root_path": "", "query_string": b"",
                      "headers": [(b"host", b"b")], "client": ("127.0.0.1", 1),
                      "server": ("b", 80)}
        app = self.app

        async def one() -> None:
            sent = False

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await asyncio.sleep(3600)
                return {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    assert message["status"] == 200, message

            await app(dict(scope_base), receive, send)

        async def many(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                await one()
            return (time.perf_counter() - started) / n

        return lambda n: self.loop.run_until_complete(many(n))
