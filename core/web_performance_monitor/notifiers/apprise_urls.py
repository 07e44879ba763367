"""Everything else through Apprise (the ``[apprise]`` extra): Teams, Discord, Telegram, e-mail,
ntfy, PagerDuty... one URL each (https://github.com/caronc/apprise/wiki).

Apprise reports only whether every URL accepted the message (``notify()`` returns a bool); the
chat robots above have their own notifiers because they answer failures with HTTP 200 and an
error code that a generic sender counts as success, and because they need the digest. Apprise
logs URLs (and so keys) at DEBUG: its logger masks our secrets (``scrub_logs_of``).
"""

from __future__ import annotations

from typing import Any

from ..config import ConfigError
from ..events import Alert
from .base import Notifier
from .webhook_base import Facts, WebhookError, markdown, scrub_logs_of

scrub_logs_of("apprise")


class AppriseNotifier(Notifier):
    name = "apprise"

    def __init__(self, urls: list[str], *, service: str | None = None,
                 report_base_url: str | None = None) -> None:
        try:
            import apprise
        except ImportError:
            raise ConfigError("apprise_urls", "needs apprise: pip install "
                              "'web-performance-monitor[apprise]'") from None
        self._apprise: Any = apprise.Apprise()
        self._markdown = apprise.NotifyFormat.MARKDOWN
        for number, url in enumerate(urls, 1):
            if not self._apprise.add(url):
                raise ConfigError("apprise_urls", f"item {number} is not a URL Apprise knows "
                                  "(not repeated here: it holds a key)")
        self.service = service
        self.report_base_url = report_base_url

    def _notify(self, title: str, body: str) -> None:
        if not self._apprise.notify(title=title, body=body, body_format=self._markdown):
            raise WebhookError("apprise: at least one URL did not accept the message "
                               "(the apprise logger says which service)")

    def send(self, alert: Alert) -> None:
        facts = Facts.of(alert, self.service, self.report_base_url)
        self._notify(alert.title, "\n\n".join(markdown(facts)[1:]))

    def send_test(self) -> None:
        self._notify("web-performance-monitor test", "Test alert. Alerts for slow endpoints "
                     "will arrive here.")
