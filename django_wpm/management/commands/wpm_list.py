"""``manage.py wpm_list``: ``wpm list`` with the project's configuration."""

from __future__ import annotations

from ..base import WPMCommand


class Command(WPMCommand):
    command = "list"
