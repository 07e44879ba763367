"""The base class every notifier implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from ..events import Alert


class Notifier(ABC):
    """Delivers alerts somewhere. Methods raise on failure; the dispatcher retries and logs.

    Notifiers run on the monitor's background worker, never on a request thread, so they may
    block (within their own timeouts).
    """

    name: ClassVar[str]

    @abstractmethod
    def send(self, alert: Alert) -> None:
        """Deliver one alert."""

    @abstractmethod
    def send_test(self) -> None:
        """Deliver a test message proving the configuration works end to end."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
