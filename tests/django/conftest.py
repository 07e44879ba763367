"""Django fixtures: the project's monitor with a recording notifier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_wpm import get_monitor
from tests.conftest import RecordingNotifier
from web_performance_monitor import PerformanceMonitor


@pytest.fixture
def wpm_settings(settings: pytest.FixtureRequest, report_dir: object) -> dict[str, object]:
    """A fresh monitor per test (pytest-django's ``settings`` fires ``setting_changed``)."""
    settings.WPM = {"THRESHOLD_SECONDS": 0.05, "LOCAL_OUTPUT_DIR": str(report_dir),
                    "ALERT_STORE_URL": "memory://", "NOTIFY_RETRIES": 0}
    return settings.WPM  # type: ignore[no-any-return]


@pytest.fixture
def dj_monitor(wpm_settings: dict[str, object],
               recorder: RecordingNotifier) -> Iterator[PerformanceMonitor]:
    monitor = get_monitor()
    monitor.add_notifier(recorder)
    yield monitor
    monitor.flush()
