"""``manage.py wpm_window``: ``wpm window`` with the project's configuration."""

from __future__ import annotations

from ..base import WPMCommand


class Command(WPMCommand):
    command = "window"
