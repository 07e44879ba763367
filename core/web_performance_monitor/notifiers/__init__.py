"""Where alerts go. Each notifier is small: ``send`` an alert, optionally ``send_test``.

``open_notifiers(config)`` builds the channels a configuration enables, as
``store.open_store`` builds the store.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from .apprise_urls import AppriseNotifier
from .base import Notifier
from .dingtalk import DingTalkNotifier
from .feishu import FeishuNotifier
from .local_file import LocalFileNotifier
from .mattermost import MattermostNotifier
from .mattermost_webhook import MattermostWebhookNotifier
from .slack import SlackNotifier
from .webhook import GenericWebhookNotifier
from .wecom import WeComNotifier

__all__ = ["AppriseNotifier", "DingTalkNotifier", "FeishuNotifier", "GenericWebhookNotifier",
           "LocalFileNotifier", "MattermostNotifier", "MattermostWebhookNotifier", "Notifier",
           "SlackNotifier", "WeComNotifier", "open_notifiers"]


def open_notifiers(config: Config) -> list[Notifier]:
    """The notifiers ``config`` enables, the local file first (it never waits for a network)."""
    notifiers: list[Notifier] = []
    if config.enable_local_file:
        notifiers.append(LocalFileNotifier(config.local_output_dir,
                                           config.report_retention_count,
                                           config.report_retention_days))
    # Config validation guarantees the three Mattermost values when it is enabled.
    if (config.enable_mattermost and config.mattermost_server_url and config.mattermost_token
            and config.mattermost_channel_id):
        notifiers.append(MattermostNotifier(config.mattermost_server_url,
                                            config.mattermost_token,
                                            config.mattermost_channel_id,
                                            config.mattermost_timeout_seconds))
    notifiers.extend(_webhooks(config))
    if config.apprise_urls:
        notifiers.append(AppriseNotifier(config.apprise_urls, service=_service(config),
                                         report_base_url=config.report_base_url))
    return notifiers


def _service(config: Config) -> str | None:
    """The service's name once the configuration has one (``service_name``, issue 12)."""
    service = getattr(config, "service_name", None)
    return service if isinstance(service, str) else None


def _webhooks(config: Config) -> list[Notifier]:
    """One notifier per webhook URL that is set (each channel is on when its URL is)."""
    common: dict[str, Any] = {"timeout": config.webhook_timeout_seconds,
                              "service": _service(config),
                              "report_base_url": config.report_base_url}
    found: list[Notifier] = []
    if config.dingtalk_webhook_url:
        found.append(DingTalkNotifier(config.dingtalk_webhook_url, secret=config.dingtalk_secret,
                                      keyword=config.dingtalk_keyword,
                                      at_mobiles=config.dingtalk_at_mobiles, **common))
    if config.feishu_webhook_url:
        found.append(FeishuNotifier(config.feishu_webhook_url, secret=config.feishu_secret,
                                    **common))
    if config.wecom_webhook_url:
        found.append(WeComNotifier(config.wecom_webhook_url, **common))
    if config.slack_webhook_url:
        found.append(SlackNotifier(config.slack_webhook_url, **common))
    if config.mattermost_webhook_url:
        found.append(MattermostWebhookNotifier(config.mattermost_webhook_url,
                                               channel=config.mattermost_webhook_channel,
                                               username=config.mattermost_webhook_username,
                                               **common))
    if config.webhook_url:
        found.append(GenericWebhookNotifier(config.webhook_url, secret=config.webhook_secret,
                                            **common))
    return found
