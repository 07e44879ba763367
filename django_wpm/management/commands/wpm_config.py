"""``manage.py wpm_config``: ``wpm config`` with the project's configuration."""

from __future__ import annotations

from ..base import WPMCommand


class Command(WPMCommand):
    command = "config"
