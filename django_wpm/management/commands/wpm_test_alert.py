"""``manage.py wpm_test_alert``: send a test alert through every enabled notifier."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_wpm import get_monitor


class Command(BaseCommand):
    help = ("Send a test alert through every enabled notifier (the local file and each chat "
            "channel).")

    def handle(self, *args: Any, **options: Any) -> None:
        result = get_monitor().test_alert_system()
        for name, ok in result["notifier_results"].items():
            style = self.style.SUCCESS if ok else self.style.ERROR
            self.stdout.write(style(f"{name}: {'ok' if ok else 'FAILED'}"))
        if not result["success"]:
            raise CommandError(f"test alert failed: {result['error']}")
        self.stdout.write(self.style.SUCCESS("all notifiers work"))
