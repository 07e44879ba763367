"""The WSGI middleware: times each request until its response iterable is closed.

Streaming responses are timed to the last chunk. The request body is never consumed: a tee on
``wsgi.input`` keeps a copy of the first ``max_body_bytes`` the application itself reads.
Frameworks that know the route template put it in ``environ["wpm.route"]`` (the Flask extension
does); otherwise the endpoint is the raw path as served (``SCRIPT_NAME`` included) with its
values collapsed (``paths.endpoint_path``: ``GET /users/{id}``). A response whose body is in
memory (a list or tuple; an adapter's ``body_in_memory`` knows its framework's responses) or
that an adapter marks complete (``environ["wpm.body_complete"]``) ends the request when the app
returns. So does a file the server sends itself (``wsgi.file_wrapper``, or a file object for
uWSGI): it goes back to the server unwrapped, so sendfile and offloading keep working, and the
sending is the server's time, not the application's.
The status is only read for slow requests, from ``environ["wpm.status"]``, noted by the
wrapped ``start_response`` (``WSGIMiddleware.responder``, which adapters may extend).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .events import SlowDetails
from .identity import framework_of, service_of, timed_inside
from .paths import endpoint_path, known_endpoint
from .profiling import request_boundary
from .request import RequestRecord, wsgi_text
from .streaming import timed_iter

if TYPE_CHECKING:
    from .monitor import PerformanceMonitor
    from .profiling import Span

ROUTE_KEY = "wpm.route"
# Set to True by a framework adapter when the response body is already in memory (not streamed):
# the request is then over when the app returns, without waiting for the server to close it.
BODY_COMPLETE_KEY = "wpm.body_complete"
STATUS_KEY = "wpm.status"  # the status line ("200 OK") or code (200)
# The exception a view raised that the framework answered with an error page (adapters note
# it from the framework's failure hook; read only for slow requests).
ERROR_KEY = "wpm.error"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class InputTee:
    """A read-through wrapper on ``wsgi.input`` that remembers a bounded prefix."""

    __slots__ = ("_cap", "_stream", "kept", "seen")

    def __init__(self, stream: Any, cap: int) -> None:
        self._stream = stream
        self._cap = cap
        self.kept = bytearray()
        self.seen = 0

    def _keep(self, data: bytes) -> bytes:
        if data:
            self.seen += len(data)
            room = self._cap - len(self.kept)
            if room > 0:
                self.kept += data[:room]
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._keep(self._stream.read() if size is None or size < 0
                          else self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._keep(self._stream.readline() if size is None or size < 0
                          else self._stream.readline(size))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return [self._keep(line) for line in self._stream.readlines(hint)]

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:  # close(), fileno(), ... of the real stream
        return getattr(self._stream, name)


def record_from_environ(environ: dict[str, Any], route: str | None) -> RequestRecord:
    """The request record of a WSGI request (copies strings, parses nothing)."""
    tee = environ.get("wsgi.input")
    if not isinstance(tee, InputTee):
        tee = None
    headers = [(key[5:].replace("_", "-").lower(), wsgi_text(value))
               for key, value in environ.items() if key.startswith("HTTP_")]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((key.replace("_", "-").lower(), wsgi_text(environ[key])))
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        declared = None
    body = bytes(tee.kept) if tee is not None else None
    size = max(declared or 0, tee.seen if tee is not None else 0) or declared
    return RequestRecord(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=wsgi_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")),
        route=route,
        query_string=wsgi_text(environ.get("QUERY_STRING", "")),
        headers=headers,
        client=environ.get("REMOTE_ADDR"),
        body=body,
        body_size=size,
    )


def _details(monitor: PerformanceMonitor, environ: dict[str, Any]) -> SlowDetails:
    """A slow request's details, read from its environ."""
    status = environ.get(STATUS_KEY)
    try:
        code = int(str(status)[:3]) if status is not None else None
    except ValueError:
        code = None
    route = environ.get(ROUTE_KEY)
    return SlowDetails(path=wsgi_text(environ.get("PATH_INFO", "")), route=route, status=code,
                       record=record_from_environ(environ, route), error=environ.get(ERROR_KEY))


def _finish(monitor: PerformanceMonitor, span: Span, environ: dict[str, Any],
            error: BaseException | None) -> None:
    where = environ.get(ROUTE_KEY)
    if not where:  # no framework named the route: the path as served, mount point included
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        where = known_endpoint(path) or endpoint_path(path)
    monitor.finish(span, "request", environ.get("REQUEST_METHOD", "GET"), where, error,
                   _details, environ)


class _Response:
    """The app's response iterable; the request ends when it is exhausted, fails or is closed.

    Test clients often never call ``close()``; servers always do. Whichever comes first ends
    the request. One slotted object holds the streamed request's state (cheaper than the
    closures ``once`` would build; ``responder`` still builds one per request).
    """

    __slots__ = ("_done", "_environ", "_monitor", "_result", "_span")

    def __init__(self, result: Iterable[bytes], monitor: PerformanceMonitor, span: Span,
                 environ: dict[str, Any]) -> None:
        self._result = result
        self._monitor = monitor
        self._span = span
        self._environ = environ
        self._done = False

    def _end(self, error: BaseException | None) -> None:
        if not self._done:
            self._done = True
            _finish(self._monitor, self._span, self._environ, error)

    def __iter__(self) -> Iterator[bytes]:
        return timed_iter(self._result, self._end)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._end(None)


class WSGIMiddleware:
    """``app.wsgi_app = monitor.create_middleware()(app.wsgi_app)``.

    Names the monitor after the app it wraps (``PerformanceMonitor.identify``: the app's
    module, "WSGI" or the framework found behind it) unless an adapter already did.
    """

    def __init__(self, app: WSGIApp, monitor: PerformanceMonitor) -> None:
        self.app = app
        self.monitor = monitor
        # The same monitor's middleware already inside: this one passes requests through.
        self.passes = timed_inside(app, monitor, WSGIMiddleware)
        if self.passes:
            monitor.note_double_wrap()
        monitor.identify(service_of(app), framework_of(app, "WSGI"))

    def responder(self, environ: dict[str, Any],
                  start_response: Callable[..., Any]) -> Callable[..., Any]:
        """The ``start_response`` the app gets: it notes the status for slow requests.

        A framework adapter may note more here (the Flask one: the route and whether the body
        is already in memory), since the app calls it while its own request state is alive.
        """
        def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            environ[STATUS_KEY] = status
            return start_response(status, headers, exc_info)

        return _start_response

    @staticmethod
    def body_in_memory(result: Iterable[bytes]) -> bool:
        """Whether the response body is already produced, so the request ends when the app
        returns (a list or tuple). An adapter that knows its framework's response type says
        more (the Flask one asks werkzeug's ``Response.is_streamed``); unknown means streamed,
        timed to the last chunk, which is never too early."""
        return isinstance(result, (list, tuple))

    @request_boundary
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        monitor = self.monitor
        if not monitor.enabled or self.passes:
            return self.app(environ, start_response)
        span = monitor.begin()
        declared = environ.get("CONTENT_LENGTH")
        if (declared and declared != "0") or environ.get("HTTP_TRANSFER_ENCODING"):
            stream = environ.get("wsgi.input")  # only a request with a body gets the tee
            if stream is not None:
                environ["wsgi.input"] = InputTee(stream, monitor.config.max_body_bytes)
        respond = self.responder(environ, start_response)
        try:
            result = self.app(environ, respond)
        except BaseException as exc:
            _finish(monitor, span, environ, exc)
            raise
        if environ.get(BODY_COMPLETE_KEY) or self.body_in_memory(result) or _sent_by_server(
                result, environ):
            _finish(monitor, span, environ, None)
            return result
        return _Response(result, monitor, span, environ)


def _sent_by_server(result: Iterable[bytes], environ: dict[str, Any]) -> bool:
    """Whether ``result`` is a file the server sends itself: made by its ``wsgi.file_wrapper``
    (gunicorn checks the type of what it gets back before using sendfile), or a file object
    (uWSGI's file_wrapper hands back the file itself and offloads it when it gets it back)."""
    wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(wrapper, type) and isinstance(result, wrapper):
        return True
    return hasattr(result, "fileno") and hasattr(result, "read")
