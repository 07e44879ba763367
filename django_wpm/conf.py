"""``settings.WPM`` → one ``PerformanceMonitor`` per process, rebuilt when the setting changes.

Like django-debug-toolbar's settings (``debug_toolbar/settings.py``): read once and cached, and
the cache is dropped on ``setting_changed`` so ``override_settings(WPM=...)`` works in tests.
(django-cors-headers instead reads settings live on every access; here nothing is read per
request.)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from web_performance_monitor import Config, ConfigError, PerformanceMonitor
from web_performance_monitor.adapter import environment_layer, framework_label, top_package

SETTING = "WPM"

_lock = threading.Lock()
_monitor: PerformanceMonitor | None = None


def label(name: str) -> str:
    """How a field is written in settings, for error messages."""
    return f'settings.WPM["{name.upper()}"]'


def user_settings() -> Mapping[str, Any]:
    value = getattr(settings, SETTING, {})
    if not isinstance(value, Mapping):
        raise ConfigError("settings.WPM", f"expected a dict of options, got {type(value).__name__}")
    return value


def load_config() -> Config:
    """The ``Config`` of ``settings.WPM`` over the ``WPM_*`` environment variables over the
    defaults; ``ConfigError`` names the bad key as the user wrote it."""
    return Config.from_layers(environment_layer(), (user_settings(), label, True))


def project_name() -> str:
    """The default service name: the project, i.e. the settings module's top package
    (``mysite`` for ``mysite.settings``); the URLconf's for settings made with
    ``settings.configure()``."""
    module = getattr(settings, "SETTINGS_MODULE", None) or getattr(settings, "ROOT_URLCONF", "")
    return top_package(module) or "django"


def get_monitor() -> PerformanceMonitor:
    """This process's monitor, built from ``settings.WPM`` on first use."""
    global _monitor
    monitor = _monitor
    if monitor is None:
        with _lock:
            if _monitor is None:
                _monitor = PerformanceMonitor(load_config(), service=project_name(),
                                              framework=framework_label("Django", "django"))
            monitor = _monitor
    return monitor


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    global _monitor
    if setting == SETTING:
        with _lock:
            old, _monitor = _monitor, None
        if old is not None:
            old.close()
