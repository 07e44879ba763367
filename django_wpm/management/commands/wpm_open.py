"""``manage.py wpm_open``: ``wpm open`` with the project's configuration."""

from __future__ import annotations

from ..base import WPMCommand


class Command(WPMCommand):
    command = "open"
