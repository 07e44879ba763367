"""A notifier for apps the tests run as servers: what each alert's profile holds, as JSON."""

from __future__ import annotations

from typing import Any

from web_performance_monitor.events import Alert
from web_performance_monitor.notifiers import Notifier


class Summaries(Notifier):
    """Keeps what each alert's profile holds, for ``/_alerts``."""

    name = "summaries"

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []

    def send(self, alert: Alert) -> None:
        profile = alert.event.profile
        session = profile.session if profile is not None else None
        functions = sorted({frame.split("\x00", 1)[0] for stack, _ in session.frame_records
                            for frame in stack}) if session is not None else []
        self.alerts.append({"endpoint": alert.event.endpoint, "functions": functions,
                            "hot": [name for name, _ in profile.hot_frames()] if profile else [],
                            "note": profile.note if profile is not None else None})

    def send_test(self) -> None:
        pass
