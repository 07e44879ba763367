"""A local HTTP server on 127.0.0.1 speaking the Mattermost v4 endpoints the client uses.

``users/me`` (login), ``files`` (multipart upload) and ``posts``; it checks the bearer token and
records uploads, posts and when each request came. ``mode`` makes it misbehave: "401", "500",
"slow" (answers after ``slow_seconds``), "hang" (accepts the request and never answers, until
the server stops) or "429" (Too Many Requests with ``Retry-After: retry_after``). ``script``
lists modes for the next requests, one each, before ``mode`` applies again.
"""

from __future__ import annotations

import json
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fake_server import FakeServer

TOKEN = "mm-test-token-0123456789"
CHANNEL = "chan-alerts"


class FakeMattermost(FakeServer):
    def __init__(self) -> None:
        super().__init__(_Handler, retry_after="30")
        self.requests: list[tuple[float, str]] = []  # (time.monotonic(), path) of each request
        self.files: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []

    @property
    def url(self) -> str:
        return self.base


class _Handler(BaseHTTPRequestHandler):
    server: FakeMattermost

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _guard(self) -> bool:
        """Common checks; False when a reply was already sent."""
        server = self.server
        server.auth_headers.append(self.headers.get("Authorization", ""))
        server.requests.append((time.monotonic(), self.path))
        mode = server.next_mode()
        if mode == "slow":
            time.sleep(server.slow_seconds)
        if mode == "hang":
            server.stopped.wait(120)
            self.close_connection = True
            return False
        if mode == "429":
            self.send_response(429)
            self.send_header("Retry-After", server.retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return False
        if mode == "500":
            self._reply(500, {"message": "internal error", "status_code": 500})
            return False
        if mode == "401" or self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"message": "Invalid or expired session", "status_code": 401})
            return False
        return True

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        if not self._guard():
            return
        if self.path == "/api/v4/users/me":
            self._reply(200, {"id": "bot-user", "username": "wpm-bot"})
        else:
            self._reply(404, {"message": "not found"})

    def do_POST(self) -> None:
        body = self._body()
        if not self._guard():
            return
        if self.path == "/api/v4/files":
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + body)
            fields, infos = {}, []
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                if part.get_filename():
                    file_id = uuid.uuid4().hex
                    self.server.files[file_id] = {"name": part.get_filename(), "content": payload}
                    infos.append({"id": file_id, "name": part.get_filename()})
                else:
                    fields[name] = payload.decode()
            for info in infos:
                self.server.files[info["id"]]["channel_id"] = fields.get("channel_id")
            self._reply(201, {"file_infos": infos, "client_ids": []})
        elif self.path == "/api/v4/posts":
            post = json.loads(body)
            if post.get("channel_id") != CHANNEL:
                self._reply(403, {"message": "no such channel"})
                return
            self.server.posts.append(post)
            self._reply(201, {"id": uuid.uuid4().hex, **post})
        else:
            self._reply(404, {"message": "not found"})
