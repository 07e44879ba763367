"""``manage.py wpm_test_alert``: ``wpm test-alert`` with the project's configuration."""

from __future__ import annotations

from ..base import WPMCommand


class Command(WPMCommand):
    command = "test-alert"
