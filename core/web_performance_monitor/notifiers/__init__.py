"""Where alerts go. Each notifier is small: ``send`` an alert, optionally ``send_test``.

``open_notifiers(config)`` builds the channels a configuration enables, as
``store.open_store`` builds the store.
"""

from __future__ import annotations

from ..config import Config
from .base import Notifier
from .local_file import LocalFileNotifier
from .mattermost import MattermostNotifier

__all__ = ["LocalFileNotifier", "MattermostNotifier", "Notifier", "open_notifiers"]


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
    return notifiers
