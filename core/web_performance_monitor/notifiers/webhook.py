"""Any webhook: the alert's facts as JSON, optionally signed, for the team's own system.

The body is ``Facts.as_json()`` plus ``"event": "slow_alert"`` (or ``"test"``, ``"digest"``
with ``"alerts": [...]``) and ``sent_at`` (Unix seconds), documented in the README. With
``webhook_secret`` the request carries ``X-WPM-Signature: sha256=<hex>``, the HMAC-SHA256 of
the exact body bytes under the secret (GitHub's ``X-Hub-Signature-256`` convention); a
receiver recomputes it over the raw body and compares with ``hmac.compare_digest``, and may
refuse an old ``sent_at`` to stop replays. Any 2xx is success; 429 honours ``Retry-After``.
No rate limit of its own: the receiver is the team's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from ..events import Alert
from .webhook_base import Facts, WebhookNotifier

SIGNATURE_HEADER = "X-WPM-Signature"


def webhook_signature(secret: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class GenericWebhookNotifier(WebhookNotifier):
    name = "webhook"
    option = "webhook_url"

    def __init__(self, url: str, *, secret: str | None = None, **common: Any) -> None:
        super().__init__(url, **common)
        self._secret = secret

    def _post(self, payload: dict[str, Any]) -> None:
        body = json.dumps({**payload, "sent_at": time.time()}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._secret:
            headers[SIGNATURE_HEADER] = webhook_signature(self._secret, body)
        self.post_bytes(body, headers=headers)

    def post_alert(self, alert: Alert, facts: Facts) -> None:
        self._post({"event": "slow_alert", **facts.as_json()})

    def post_digest(self, held: list[Facts]) -> None:
        self._post({"event": "digest", "alerts": [facts.as_json() for facts in held]})

    def post_text(self, text: str) -> None:
        self._post({"event": "test", "text": text})
