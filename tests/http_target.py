"""A slow HTTP service on 127.0.0.1 for the outgoing-call tests: what an app calls out to.

``GET|POST /any/path?delay=0.05&status=404`` answers after ``delay`` seconds with ``status``
(200 by default) and the body ``ok <path>``, in HTTP/1.1 with a ``Content-Length``, so clients
keep their connections open as they would with a real service.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fake_server import FakeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        time.sleep(float(query.get("delay", 0)))
        body = f"ok {parts.path}".encode()
        self.send_response(int(query.get("status", 200)))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class HTTPTarget(FakeServer):
    def __init__(self) -> None:
        super().__init__(_Handler, retry_after="0")
