"""Mattermost incoming webhook: for teams without a bot account (``mattermost.py`` is the bot).

The platform's rules (https://developers.mattermost.com/integrate/webhooks/incoming/): POST
``{"text": markdown}`` to ``https://chat.example.com/hooks/<id>`` (the URL is the credential),
optionally ``channel`` and ``username`` (when the server allows overriding them); success is
HTTP 200 ``ok``; a post longer than the server's limit is split by the server. Mattermost
documents no webhook rate limit of its own; a server's API limit answers 429 with
``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from ..events import Alert
from .webhook_base import Facts, WebhookNotifier, digest_lines, markdown


class MattermostWebhookNotifier(WebhookNotifier):
    name = "mattermost_webhook"
    option = "mattermost_webhook_url"

    def __init__(self, url: str, *, channel: str | None = None, username: str | None = None,
                 **common: Any) -> None:
        super().__init__(url, **common)
        self.overrides = {key: value for key, value in
                          (("channel", channel), ("username", username)) if value}

    def post_text(self, text: str) -> None:
        self.post_json({"text": text, **self.overrides})

    def post_alert(self, alert: Alert, facts: Facts) -> None:
        self.post_text("\n".join(markdown(facts)))

    def post_digest(self, held: list[Facts]) -> None:
        self.post_text("\n".join(digest_lines(held)))
