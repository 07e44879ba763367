"""``manage.py wpm_show``: ``wpm show`` with the project's configuration."""

from __future__ import annotations

from ..base import WPMCommand


class Command(WPMCommand):
    command = "show"
