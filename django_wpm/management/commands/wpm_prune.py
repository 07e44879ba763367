"""``manage.py wpm_prune``: ``wpm prune`` with the project's configuration."""

from __future__ import annotations

from ..base import WPMCommand


class Command(WPMCommand):
    command = "prune"
