"""WeCom (企业微信) group robot: a ``markdown`` summary, then the report as a ``file`` message.

The platform's rules (https://developer.work.weixin.qq.com/document/path/91770):

- the webhook is ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...``, taken whole;
  the key is the credential (no signing);
- ``markdown.content`` at most 4096 bytes of UTF-8;
- a file is uploaded first to ``.../webhook/upload_media?key=...&type=file`` (multipart field
  ``media``; answers ``media_id``), then sent as ``{"msgtype": "file", "file": {"media_id"}}``;
- 20 messages a minute per robot (``errcode 45009`` "api freq out of limit");
- failures come back as HTTP 200 with a non-zero ``errcode`` and an ``errmsg``.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

from ..events import Alert
from .webhook_base import (
    Facts,
    WebhookError,
    WebhookNotifier,
    check_code,
    markdown,
    truncate_bytes,
)

RATE_LIMITED = {45009: 60.0}  # errcode: seconds to wait
MAX_CONTENT_BYTES = 4096


def upload_url(webhook_url: str) -> str:
    """``.../webhook/send?key=K`` -> ``.../webhook/upload_media?key=K`` (same host and key)."""
    parts = urlsplit(webhook_url)
    path = parts.path.rsplit("/", 1)[0] + "/upload_media"
    return urlunsplit(parts._replace(path=path))


class WeComNotifier(WebhookNotifier):
    name = "wecom"
    option = "wecom_webhook_url"
    limits = ((20, 60.0),)
    cost = 2  # the summary and the report file are two messages

    def _markdown(self, lines: list[str]) -> None:
        content = truncate_bytes("\n".join(lines), MAX_CONTENT_BYTES)
        self.post_json({"msgtype": "markdown", "markdown": {"content": content}})

    def post_alert(self, alert: Alert, facts: Facts) -> None:
        """The summary, then the report file. Once the summary is shown the alert is
        delivered: a failed upload is logged, not retried (a retry would repeat the summary)."""
        self._markdown(markdown(facts))
        try:
            self._send_file(alert.filename, alert.html.encode("utf-8"))
        except Exception as exc:
            self.report_error(f"sending the report file to {self.name}", exc)

    def _send_file(self, filename: str, content: bytes) -> None:
        answer = self.post_bytes(b"", url=upload_url(self.url), params={"type": "file"},
                                 files={"media": (filename, content, "text/html")})
        media_id = json.loads(answer).get("media_id")
        if not isinstance(media_id, str):
            raise WebhookError(f"{self.name}: upload_media answered without a media_id")
        self.post_json({"msgtype": "file", "file": {"media_id": media_id}})

    def post_titled(self, title: str, lines: list[str]) -> None:
        self._markdown(lines)  # WeCom's markdown message has no title of its own

    def check_answer(self, status: int, body: bytes) -> None:
        check_code(self.name, body, "errcode", "errmsg", RATE_LIMITED)


