"""Feishu / Lark (飞书) custom bot: an ``interactive`` card posted to the bot's webhook.

The platform's rules (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot,
the same for Lark at open.larksuite.com):

- the webhook is ``https://open.feishu.cn/open-apis/bot/v2/hook/<id>`` (Lark:
  ``open.larksuite.com``), taken whole;
- "签名校验" signing: ``timestamp`` (seconds, within an hour) and ``sign`` =
  base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) in the JSON body
  (a wrong one: ``code 19021``);
- 100 messages a minute and 5 a second per bot (``code 11232`` when limited);
- the request body may not exceed 20 KB (``code 9499`` "Bad Request");
- failures come back as HTTP 200 with a non-zero ``code`` and a ``msg``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
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

RATE_LIMITED = {11232: 10.0}  # code: seconds to wait (the platform's load shedding)
MAX_BODY_BYTES = 20 * 1024


def feishu_sign(secret: str, timestamp: int) -> str:
    """base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")): the key is the string."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class FeishuNotifier(WebhookNotifier):
    name = "feishu"
    option = "feishu_webhook_url"
    limits = ((100, 60.0), (5, 1.0))

    def __init__(self, url: str, *, secret: str | None = None, **common: Any) -> None:
        super().__init__(url, **common)
        self._secret = secret

    def _card(self, title: str, text: str, link: str | None) -> dict[str, Any]:
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": text}}]
        if link:
            elements.append({"tag": "action", "actions": [{
                "tag": "button", "type": "primary", "url": link,
                "text": {"tag": "plain_text", "content": "Open the report"}}]})
        return {"msg_type": "interactive", "card": {
            "config": {"wide_screen_mode": True},
            "header": {"template": "red", "title": {"tag": "plain_text", "content": title}},
            "elements": elements}}

    def post_titled(self, title: str, lines: list[str], link: str | None = None) -> None:
        text = "\n".join(lines)
        payload = self._card(title, text, link)
        if self._secret:
            timestamp = int(time.time())
            payload.update(timestamp=str(timestamp), sign=feishu_sign(self._secret, timestamp))
        size = len(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        if size > MAX_BODY_BYTES:  # the text goes first; JSON escaping can only grow it
            budget = len(text.encode("utf-8")) - (size - MAX_BODY_BYTES) * 2 - 64
            payload["card"]["elements"][0]["text"]["content"] = truncate_bytes(text, budget)
        self.post_json(payload)

    def post_alert(self, alert: Alert, facts: Facts) -> None:
        lines = markdown(facts)
        if facts.report_url:  # a button instead of the link line
            lines = lines[:-1]
        self.post_titled(alert.title, lines, facts.report_url)


    def check_answer(self, status: int, body: bytes) -> None:
        check_code(self.name, body, "code", "msg", RATE_LIMITED)
