"""Local HTTP servers on 127.0.0.1 that answer like each chat platform's webhook.

Each one implements its platform's documented behaviour (the rules are in the matching
``notifiers/<platform>.py`` docstring): the credential in the URL, the signature checked with
the documented algorithm, the keyword, the rate limit answered with the platform's own error,
the size limits, and the platform's success and error bodies. Every server can also misbehave:
``mode`` "slow" (answers after ``slow_seconds``), "429" (``Retry-After: retry_after``), "500",
"gate" (holds each request until ``gate`` is set); ``script`` lists modes for the next requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from collections import deque
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_server import FakeServer

DINGTALK_TOKEN = "dt0123456789abcdef0123456789abcdef"
DINGTALK_SECRET = "SECdingtalk0123456789abcdefSECRET"
FEISHU_HOOK = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
FEISHU_SECRET = "feishuSecret0123456789"
WECOM_KEY = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"
SLACK_PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
MATTERMOST_HOOK = "xzy7f3n5qpb8tgm4ce1dkrwa9h"
RECEIVER_SECRET = "receiver-signing-secret-0123"

Answer = tuple[int, Any]  # (HTTP status, JSON-able body or plain text)


class FakeChat(FakeServer):
    """The common part of the robots: the record of requests, a rate window like the
    platform's."""

    limit: tuple[int, float] | None = None  # (messages, seconds) the platform allows

    def __init__(self) -> None:
        super().__init__(_Handler, retry_after="7")
        self.gate = threading.Event()
        self.requests: list[dict[str, Any]] = []  # every request: path, query, headers, body
        self.accepted: list[dict[str, Any]] = []  # JSON bodies of the messages shown
        self.refused: list[Answer] = []  # the platform's error answers
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        super().__exit__(*exc)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout) while a "slow" answer was pending: expected."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def over_limit(self) -> bool:
        """Count a message in the platform's window; True when it exceeds the limit."""
        if self.limit is None:
            return False
        count, seconds = self.limit
        now = time.monotonic()
        with self._lock:
            while self._sent and self._sent[0] <= now - seconds:
                self._sent.popleft()
            if len(self._sent) >= count:
                return True
            self._sent.append(now)
            return False

    def handle_post(self, path: str, query: dict[str, str], headers: Any,
                    body: bytes) -> Answer:
        raise NotImplementedError

    def refuse(self, answer: Answer) -> Answer:
        self.refused.append(answer)
        return answer


class _Handler(BaseHTTPRequestHandler):
    server: FakeChat

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str)
                         else "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        server.requests.append({"path": parts.path, "query": query,
                                "headers": dict(self.headers), "body": body})
        mode = server.next_mode()
        if mode == "slow":
            time.sleep(server.slow_seconds)
        elif mode == "gate":
            server.gate.wait(60)
        elif mode == "429":
            self._reply(429, {"error": "rate_limited"}, {"Retry-After": server.retry_after})
            return
        elif mode == "500":
            self._reply(500, {"error": "internal"})
            return
        status, answer = server.handle_post(parts.path, query, self.headers, body)
        self._reply(status, answer)


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _fresh(timestamp: str, seconds: float, now: float) -> bool:
    try:
        return abs(now - float(timestamp)) <= seconds
    except ValueError:
        return False


class FakeDingTalk(FakeChat):
    """``/robot/send?access_token=...``; signing, keyword, 20/min, ``errcode`` answers."""

    limit = (20, 60.0)

    def __init__(self, *, secret: str | None = None, keyword: str | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.keyword = keyword
        self.token = DINGTALK_TOKEN

    @property
    def url(self) -> str:
        return f"{self.base}/robot/send?access_token={DINGTALK_TOKEN}"

    def handle_post(self, path: str, query: dict[str, str], headers: Any,
                    body: bytes) -> Answer:
        if path != "/robot/send" or query.get("access_token") != self.token:
            return self.refuse((200, {"errcode": 300001, "errmsg": "token is not exist"}))
        if self.secret:
            timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
            expected = base64.b64encode(hmac.new(
                self.secret.encode(), f"{timestamp}\n{self.secret}".encode(),
                hashlib.sha256).digest()).decode()
            if not (_fresh(timestamp, 3600_000, time.time() * 1000)
                    and hmac.compare_digest(sign, expected)):
                return self.refuse((200, {"errcode": 310000, "errmsg": "sign not match"}))
        message = _json(body)
        if message is None or message.get("msgtype") not in ("text", "markdown"):
            return self.refuse((200, {"errcode": 40035, "errmsg": "缺少参数 json"}))
        if self.keyword and self.keyword not in json.dumps(message, ensure_ascii=False):
            return self.refuse((200, {"errcode": 310000, "errmsg": "keywords not in content"}))
        if self.over_limit():
            return self.refuse((200, {"errcode": 130101,
                                      "errmsg": "send too fast, exceed 20 times per minute"}))
        self.accepted.append(message)
        return 200, {"errcode": 0, "errmsg": "ok"}


class FakeFeishu(FakeChat):
    """``/open-apis/bot/v2/hook/<id>``; body signature, 5/s, 20 KB, ``code`` answers."""

    limit = (5, 1.0)

    def __init__(self, *, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret

    @property
    def url(self) -> str:
        return f"{self.base}/open-apis/bot/v2/hook/{FEISHU_HOOK}"

    def handle_post(self, path: str, query: dict[str, str], headers: Any,
                    body: bytes) -> Answer:
        if path != f"/open-apis/bot/v2/hook/{FEISHU_HOOK}":
            return self.refuse((200, {"code": 19001, "msg": "param invalid: incoming webhook "
                                      "access token invalid", "data": {}}))
        if len(body) > 20 * 1024:
            return self.refuse((200, {"code": 9499, "msg": "Bad Request", "data": {}}))
        message = _json(body)
        if message is None or "msg_type" not in message:
            return self.refuse((200, {"code": 9499, "msg": "Bad Request", "data": {}}))
        if self.secret:
            timestamp = str(message.get("timestamp", ""))
            expected = base64.b64encode(hmac.new(f"{timestamp}\n{self.secret}".encode(), b"",
                                                 hashlib.sha256).digest()).decode()
            if not (_fresh(timestamp, 3600, time.time())
                    and hmac.compare_digest(str(message.get("sign", "")), expected)):
                return self.refuse((200, {"code": 19021, "msg": "sign match fail or timestamp "
                                          "is not within one hour from current time"}))
        if self.over_limit():
            return self.refuse((200, {"code": 11232, "msg": "frequency limited", "data": {}}))
        self.accepted.append(message)
        return 200, {"code": 0, "msg": "success", "data": {}}


class FakeWeCom(FakeChat):
    """``/cgi-bin/webhook/send`` and ``upload_media`` with ``?key=``; 20/min; 4096 bytes."""

    limit = (20, 60.0)

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, bytes]] = {}  # media_id -> (file name, content)

    @property
    def url(self) -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={WECOM_KEY}"

    def handle_post(self, path: str, query: dict[str, str], headers: Any,
                    body: bytes) -> Answer:
        if query.get("key") != WECOM_KEY:
            return self.refuse((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
        if path == "/cgi-bin/webhook/upload_media" and query.get("type") == "file":
            head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode()
            form = BytesParser(policy=HTTP).parsebytes(head + body)
            for part in form.iter_parts():
                if part.get_param("name", header="content-disposition") == "media":
                    media_id = f"media-{len(self.files)}"
                    self.files[media_id] = (part.get_filename() or "",
                                            part.get_payload(decode=True) or b"")
                    return 200, {"errcode": 0, "errmsg": "ok", "type": "file",
                                 "media_id": media_id, "created_at": str(int(time.time()))}
            return self.refuse((200, {"errcode": 44001, "errmsg": "empty media data"}))
        if path != "/cgi-bin/webhook/send":
            return self.refuse((404, "not found"))
        message = _json(body) or {}
        kind = message.get("msgtype")
        if kind == "markdown":
            if len(message["markdown"].get("content", "").encode()) > 4096:
                return self.refuse((200, {"errcode": 40058,
                                          "errmsg": "markdown.content exceed max length 4096"}))
        elif kind == "file":
            if message.get("file", {}).get("media_id") not in self.files:
                return self.refuse((200, {"errcode": 40007, "errmsg": "invalid media_id"}))
        else:
            return self.refuse((200, {"errcode": 40008, "errmsg": "invalid message type"}))
        if self.over_limit():
            return self.refuse((200, {"errcode": 45009, "errmsg": "api freq out of limit"}))
        self.accepted.append(message)
        return 200, {"errcode": 0, "errmsg": "ok"}


class FakeSlack(FakeChat):
    """``/services/T/B/X``: 1/s answered with 429, ``invalid_blocks`` over 3000 characters."""

    limit = (1, 1.0)

    @property
    def url(self) -> str:
        return self.base + SLACK_PATH

    def handle_post(self, path: str, query: dict[str, str], headers: Any,
                    body: bytes) -> Answer:
        if path != SLACK_PATH:
            return self.refuse((404, "no_service"))
        message = _json(body)
        if message is None or not (message.get("text") or message.get("blocks")):
            return self.refuse((400, "invalid_payload"))
        for block in message.get("blocks", []):
            if block.get("type") == "section" and len(block["text"]["text"]) > 3000:
                return self.refuse((400, "invalid_blocks"))
        if self.over_limit():
            return self.refuse((429, "rate_limited"))
        self.accepted.append(message)
        return 200, "ok"


class FakeMattermostHooks(FakeChat):
    """``/hooks/<id>``: ``text`` required, 200 ``ok``."""

    @property
    def url(self) -> str:
        return f"{self.base}/hooks/{MATTERMOST_HOOK}"

    def handle_post(self, path: str, query: dict[str, str], headers: Any,
                    body: bytes) -> Answer:
        if path != f"/hooks/{MATTERMOST_HOOK}":
            return self.refuse((400, {"id": "web.incoming_webhook.invalid.app_error"}))
        message = _json(body)
        if message is None or not message.get("text"):
            return self.refuse((400, {"id": "web.incoming_webhook.text.app_error"}))
        self.accepted.append(message)
        return 200, "ok"


class FakeReceiver(FakeChat):
    """A team's own endpoint: checks ``X-WPM-Signature`` when it knows the secret."""

    def __init__(self, *, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret

    @property
    def url(self) -> str:
        return f"{self.base}/alerts"

    def handle_post(self, path: str, query: dict[str, str], headers: Any,
                    body: bytes) -> Answer:
        if self.secret:
            expected = "sha256=" + hmac.new(self.secret.encode(), body,
                                            hashlib.sha256).hexdigest()
            if not hmac.compare_digest(headers.get("X-WPM-Signature", ""), expected):
                return self.refuse((401, "bad signature"))
        message = _json(body)
        if message is None:
            return self.refuse((400, "expected JSON"))
        self.accepted.append(message)
        return 200, {"received": True}
