"""Outgoing calls through ``aiohttp``'s client, with its own hook: a ``TraceConfig``.

aiohttp sends ``on_request_start`` and then ``on_request_end`` or ``on_request_exception``
for every request of a ``ClientSession`` given the trace config, in the task that made the
request (so in its context). One call spans the redirects aiohttp follows and ends when the
final response's headers arrived. A session takes its trace configs when it is made, so, as
OpenTelemetry's aiohttp-client instrumentation does, ``ClientSession.__init__`` is wrapped to
append ours to the ones the application passes (never changing its list); sessions made
before the monitor started are not seen. The handlers never raise (a raising handler would
fail the request).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp

from .http_patch import WHAT, Patch, monitored, report, start

__all__ = ["TRACE", "patches"]


def patches() -> list[Patch]:
    return [Patch(aiohttp.ClientSession, "__init__", _session_init)]


def _describe(params: aiohttp.TraceRequestStartParams) -> tuple[str, str, str]:
    """Method, URL without its credentials (``user:password@``: never kept), library."""
    url = params.url
    if url.raw_user or url.raw_password:
        url = url.with_user(None)
    return params.method, str(url), "aiohttp"


async def _on_request_start(session: aiohttp.ClientSession, context: SimpleNamespace,
                            params: aiohttp.TraceRequestStartParams) -> None:
    if monitored() is not None:
        context.wpm_call = start(sys._getframe(), "status", _describe, params)


async def _on_request_end(session: aiohttp.ClientSession, context: SimpleNamespace,
                          params: aiohttp.TraceRequestEndParams) -> None:
    pending = getattr(context, "wpm_call", None)
    if pending is not None:
        pending.finish(params.response, None)


async def _on_request_exception(session: aiohttp.ClientSession, context: SimpleNamespace,
                                params: aiohttp.TraceRequestExceptionParams) -> None:
    pending = getattr(context, "wpm_call", None)
    if pending is not None:
        pending.finish(None, params.exception)


TRACE = aiohttp.TraceConfig()
TRACE.on_request_start.append(_on_request_start)
TRACE.on_request_end.append(_on_request_end)
TRACE.on_request_exception.append(_on_request_exception)
TRACE.freeze()


def _session_init(real: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(real)
    def __init__(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        try:
            configs = kwargs.get("trace_configs") or []
            if TRACE not in configs:
                kwargs["trace_configs"] = [*configs, TRACE]
        except Exception as exc:
            report(WHAT, exc)
        real(self, *args, **kwargs)

    return __init__
