"""Plain WSGI applications for the core's tests (no framework involved)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from tests.conftest import busy

StartResponse = Callable[..., Any]


def slow_app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """Reads its whole body, burns 100 ms, echoes how many bytes it read."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    busy(0.1)
    start_response("201 Created", [("Content-Type", "application/json"), ("X-App", "yes")])
    return [json.dumps({"read": len(body)}).encode()]


def fast_app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fast"]


def streaming_app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(3):
        busy(0.03)
        yield f"chunk {i}\n".encode()


class Boom(Exception):
    pass


def failing_app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    busy(0.08)
    raise Boom("the view failed")
