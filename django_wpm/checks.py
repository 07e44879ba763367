"""System checks: ``manage.py check`` catches configuration mistakes before deploy.

| id | level | problem |
|---|---|---|
| django_wpm.E001 | error | an option has an invalid value |
| django_wpm.E002 | error | ``settings.WPM`` holds an unknown key |
| django_wpm.E003 | error | Mattermost enabled without server URL, token or channel |
| django_wpm.E004 | error | ``settings.WPM`` is not a dict |
| django_wpm.E005 | error | the middleware is missing from ``MIDDLEWARE`` |
| django_wpm.W001 | warning | the report folder cannot be written |
| django_wpm.W002 | warning | the middleware is not first in ``MIDDLEWARE`` |
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from web_performance_monitor import Config, ConfigError
from web_performance_monitor.adapter import FIELD_NAMES, check_field, suggest_key

from .conf import label, load_config, user_settings

MIDDLEWARE_PATH = "django_wpm.middleware.PerformanceMonitorMiddleware"
_MATTERMOST = ("mattermost_server_url", "mattermost_token", "mattermost_channel_id")


def check_settings(app_configs: Sequence[Any] | None = None,
                   **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        options = user_settings()
    except ConfigError as exc:
        return [checks.Error(str(exc), hint='Set WPM = {"THRESHOLD_SECONDS": 1.0, ...}.',
                             id="django_wpm.E004")]
    for key, value in options.items():
        name = str(key).lower().removeprefix("wpm_")
        if name not in FIELD_NAMES:
            close = suggest_key(name)
            errors.append(checks.Error(
                f"settings.WPM has an unknown key {key!r}.",
                hint=f"Did you mean {close.upper()!r}?" if close else
                "See the README's option table for the known keys.",
                id="django_wpm.E002"))
            continue
        try:
            check_field(name, value, label=label)
        except ConfigError as exc:
            errors.append(checks.Error(f"{exc.key} is invalid.", hint=exc.problem.capitalize(),
                                       id="django_wpm.E001"))
    if errors:
        return errors
    try:
        config = load_config()
    except ConfigError as exc:
        is_mattermost = any(exc.key == label(name) for name in _MATTERMOST)
        return [checks.Error(str(exc), hint="Set MATTERMOST_SERVER_URL, MATTERMOST_TOKEN and "
                             "MATTERMOST_CHANNEL_ID, or ENABLE_MATTERMOST = False."
                             if is_mattermost else None,
                             id="django_wpm.E003" if is_mattermost else "django_wpm.E001")]
    errors.extend(_check_output_dir(config))
    errors.extend(_check_middleware())
    return errors


def _check_output_dir(config: Config) -> list[checks.CheckMessage]:
    if not config.enable_local_file and config.alert_store_url is not None:
        return []
    directory = config.local_output_dir
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".wpm-check-"):
            pass
    except OSError as exc:
        return [checks.Warning(
            f"The report folder {directory!r} cannot be written: {exc.strerror or exc}.",
            hint=f"Create it with write access for the server's user, or set "
                 f"{label('local_output_dir')} to a writable folder.",
            id="django_wpm.W001")]
    return []


def _check_middleware() -> list[checks.CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [checks.Error(f"{MIDDLEWARE_PATH!r} is not in MIDDLEWARE: nothing is monitored.",
                             hint="Add it as the first entry of MIDDLEWARE.",
                             id="django_wpm.E005")]
    if middleware[0] != MIDDLEWARE_PATH:
        return [checks.Warning(
            f"{MIDDLEWARE_PATH!r} is not first in MIDDLEWARE: time spent in the middleware "
            "before it is not measured.",
            hint="Move it to the top of MIDDLEWARE.", id="django_wpm.W002")]
    return []
