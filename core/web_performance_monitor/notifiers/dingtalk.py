"""DingTalk (钉钉) custom robot: ``msgtype: markdown`` posts to the robot's webhook.

The platform's rules (https://open.dingtalk.com/document/robots/custom-robot-access and
https://open.dingtalk.com/document/robots/customize-robot-security-settings):

- the webhook is ``https://oapi.dingtalk.com/robot/send?access_token=...``, taken whole;
- "加签" signing: ``timestamp`` (milliseconds) and ``sign`` =
  urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))) in the query;
- a "custom keyword": every message must contain it (else ``errcode 310000``);
- 20 messages a minute per robot; over it the robot is blocked for 10 minutes
  (``errcode 130101``, "send too fast, exceed 20 times per minute");
- failures come back as HTTP 200 with a non-zero ``errcode`` and an ``errmsg``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from ..events import Alert
from .webhook_base import (
    Facts,
    WebhookNotifier,
    check_code,
    markdown,
    truncate_bytes,
)

RATE_LIMITED = {130101: 600.0}  # errcode: seconds the robot stays blocked (10 minutes)
MAX_TEXT_BYTES = 20_000  # DingTalk documents no markdown limit; its request limit is 20 KB


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), before urlencoding
    (httpx encodes query parameters)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkNotifier(WebhookNotifier):
    name = "dingtalk"
    option = "dingtalk_webhook_url"
    limits = ((20, 60.0),)

    def __init__(self, url: str, *, secret: str | None = None, keyword: str | None = None,
                 at_mobiles: list[str] | None = None, **common: Any) -> None:
        super().__init__(url, **common)
        self._secret = secret
        self.keyword = keyword
        self.at_mobiles = list(at_mobiles or ())

    def post_titled(self, title: str, lines: list[str]) -> None:
        if self.keyword and not any(self.keyword in text for text in (title, *lines)):
            title = f"{self.keyword} {title}"
            lines = [f"{self.keyword}", *lines]
        if self.at_mobiles:  # DingTalk notifies only mobiles also written in the text
            lines = [*lines, " ".join(f"@{mobile}" for mobile in self.at_mobiles)]
        text = "\n\n".join(lines)
        payload: dict[str, Any] = {
            "msgtype": "markdown",
            "markdown": {"title": title[:100], "text": truncate_bytes(text, MAX_TEXT_BYTES)},
            "at": {"atMobiles": self.at_mobiles, "isAtAll": False},
        }
        params = None
        if self._secret:
            timestamp = int(time.time() * 1000)
            params = {"timestamp": str(timestamp), "sign": dingtalk_sign(self._secret, timestamp)}
        self.post_json(payload, params=params)

    def post_alert(self, alert: Alert, facts: Facts) -> None:
        self.post_titled(alert.title, markdown(facts))


    def check_answer(self, status: int, body: bytes) -> None:
        check_code(self.name, body, "errcode", "errmsg", RATE_LIMITED)
