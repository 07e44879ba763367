"""``manage.py wpm_config``: the effective configuration, secrets masked."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from django_wpm import get_monitor


class Command(BaseCommand):
    help = "Print the effective web-performance-monitor configuration (secrets masked) as JSON."

    def handle(self, *args: Any, **options: Any) -> None:
        config = get_monitor().config.as_dict()
        self.stdout.write(json.dumps({k.upper(): v for k, v in config.items()}, indent=2,
                                     sort_keys=True))
