from __future__ import annotations

from django.apps import AppConfig


class DjangoWPMConfig(AppConfig):
    name = "django_wpm"
    label = "django_wpm"
    verbose_name = "Web performance monitor"

    def ready(self) -> None:
        from django.core import checks

        from . import conf  # noqa: F401 - connects the setting_changed receiver
        from .checks import check_settings
        from .queries import install as install_query_capture

        checks.register(check_settings)
        install_query_capture()
