"""Outgoing calls through ``http.client``: ``http.client`` itself, ``urllib.request``,
``urllib3`` and ``requests``.

``requests`` sends through ``urllib3``, whose ``HTTPConnection`` is an ``http.client``
subclass calling up to ``putrequest``, ``endheaders`` and ``getresponse``, so one class sees
them all (sentry-python's ``stdlib`` integration patches the same class). A call runs from
``putrequest`` (the request line: method and URL) to ``getresponse`` returning (status line
and headers read: the service's answer; reading the body is left to the caller's pace, where
sentry-python's span waits for it). ``endheaders`` connects (lazily, on the first send) and
sends, so it is the one place a refused connection or a connect timeout is seen; it only
records such a failure. Each wrapper calls the original with the same arguments and returns
or raises what it did.

Outside a monitored request ``putrequest`` and ``getresponse`` pay one ``ContextVar.get`` and
``endheaders`` nothing but its frame.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from http.client import HTTPConnection
from types import FrameType
from typing import Any

from .http_patch import WHAT, Patch, Pending, monitored, report, start

__all__ = ["patches"]

ATTR = "_wpm_call"  # the connection's pending call, from putrequest to getresponse


def patches() -> list[Patch]:
    return [Patch(HTTPConnection, name, wrap) for name, wrap in
            (("putrequest", _putrequest), ("endheaders", _endheaders),
             ("getresponse", _getresponse))]


def _putrequest(real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def putrequest(self: HTTPConnection, method: str, url: str, *args: Any,
                   **kwargs: Any) -> Any:
        if monitored() is not None:
            _begin(self, method, url, sys._getframe(1))
        return real(self, method, url, *args, **kwargs)

    return putrequest


def _endheaders(real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def endheaders(self: HTTPConnection, *args: Any, **kwargs: Any) -> Any:
        try:
            return real(self, *args, **kwargs)
        except BaseException as exc:  # connecting or sending failed: no response will come
            pending = _take(self)
            if pending is not None:
                pending.finish(None, exc)
            raise

    return endheaders


def _getresponse(real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def getresponse(self: HTTPConnection, *args: Any, **kwargs: Any) -> Any:
        if monitored() is None:
            return real(self, *args, **kwargs)
        pending = _take(self)
        if pending is None:
            return real(self, *args, **kwargs)
        try:
            response = real(self, *args, **kwargs)
        except BaseException as exc:
            pending.finish(None, exc)
            raise
        pending.finish(response, None)
        return response

    return getresponse


def _begin(conn: HTTPConnection, method: str, url: str, caller: FrameType) -> None:
    try:
        setattr(conn, ATTR, start(caller, "status", _describe, conn, method, url, caller))
    except Exception as exc:  # a connection class refusing new attributes
        report(WHAT, exc)


def _take(conn: HTTPConnection) -> Pending | None:
    """The connection's pending call, cleared; None if there is none. Never raises."""
    try:
        pending: Pending | None = vars(conn).pop(ATTR, None)
        return pending
    except Exception as exc:
        report(WHAT, exc)
        return None


def _describe(conn: HTTPConnection, method: str, url: str,
              caller: FrameType) -> tuple[str, str, str]:
    return method, full_url(conn, url), _library(caller)


def full_url(conn: HTTPConnection, target: str) -> str:
    """The absolute URL of a request line's ``target`` on ``conn``.

    ``target`` is a path (``/a?b=1``), or already absolute through an HTTP proxy. Through a
    CONNECT tunnel the host is the tunnel's, not the proxy's. The scheme follows the
    connection's default port (443: https), as urllib3's and http.client's TLS classes set it.
    """
    if target.startswith(("http://", "https://")):
        return target
    host = getattr(conn, "_tunnel_host", None)
    port = getattr(conn, "_tunnel_port", None) if host else conn.port
    host = host or conn.host
    default = conn.default_port
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{'https' if default == 443 else 'http'}://{netloc}{target}"


def _library(frame: FrameType | None) -> str:
    """"requests" when requests made the call, else "urllib3" when urllib3 did, else
    "urllib.request" or "http.client": read from the modules on the stack between
    ``putrequest``'s caller and the first frame that belongs to none of them (a few frames)."""
    library = "http.client"
    while frame is not None:
        top = str(frame.f_globals.get("__name__", "")).partition(".")[0]
        if top == "requests":
            return "requests"
        if top == "urllib3":
            library = "urllib3"
        elif top == "urllib":
            library = "urllib.request"
        elif top != "http":
            return library
        frame = frame.f_back
    return library
