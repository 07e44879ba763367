"""Where alerts go. Each notifier is small: ``send`` an alert, ``send_test`` a test message."""

from .base import Notifier
from .local_file import LocalFileNotifier
from .mattermost import MattermostNotifier

__all__ = ["LocalFileNotifier", "MattermostNotifier", "Notifier"]
