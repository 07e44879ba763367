from __future__ import annotations

from django.apps import AppConfig


class DjangoWPMConfig(AppConfig):
    name = "django_wpm"
    label = "django_wpm"
    verbose_name = "Web performance monitor"

    def ready(self) -> None:
        from django.core import checks

        from . import conf  # noqa: F401 - connects the setting_changed receiver
        from . import queries
        from .checks import check_settings

        checks.register(check_settings)
        queries.install()
