"""Slack incoming webhook: ``text`` (the notification's fallback) and ``blocks``.

The platform's rules (https://api.slack.com/messaging/webhooks,
https://api.slack.com/reference/block-kit/blocks, https://api.slack.com/apis/rate-limits):

- the webhook ``https://hooks.slack.com/services/T.../B.../...`` is the credential, taken whole;
- a ``section`` block's text is at most 3000 characters, a ``header``'s 150;
- about one message a second per webhook; over it, HTTP 429 with ``Retry-After``;
- success is HTTP 200 ``ok``; a refusal is 4xx with a word such as ``invalid_blocks``.
"""

from __future__ import annotations

from ..events import Alert
from .webhook_base import Facts, WebhookNotifier, markdown

SECTION_CHARS = 3000
HEADER_CHARS = 150
BOLD, LINK = "*", "<{url}|{text}>"  # Slack's mrkdwn


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


class SlackNotifier(WebhookNotifier):
    name = "slack"
    option = "slack_webhook_url"
    limits = ((1, 1.0),)
    bold = BOLD
    link = LINK

    def post_titled(self, title: str, lines: list[str]) -> None:
        text = "\n".join(lines)
        self.post_json({"text": _clip(f"{title}\n{text}", SECTION_CHARS), "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(title, HEADER_CHARS)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_CHARS)}},
        ]})

    def post_alert(self, alert: Alert, facts: Facts) -> None:
        self.post_titled(alert.title, markdown(facts, bold=BOLD, link=LINK))

