"""The base class every notifier implements (the shape of pyinstrument's ``renderers/base.py``)."""

from __future__ import annotations

import inspect
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from ..events import Alert, SlowEvent


def _unreported(what: str, exc: BaseException) -> None:
    """Until a monitor connects its error log."""


class RetryLater(Exception):
    """Raised by ``send`` when the server asked to wait (HTTP 429 with ``Retry-After``).

    The channel sends nothing more to that server for ``seconds``, then tries again.
    """

    def __init__(self, seconds: float, message: str = "the server asked to retry later") -> None:
        super().__init__(f"{message} (in {seconds:g} s)")
        self.seconds = seconds


class Notifier(ABC):
    """Delivers alerts somewhere. ``send`` raises on failure; the monitor retries and logs.

    Notifiers never run on a request thread, so they may block (within their own timeouts). A
    ``local`` notifier (the report file) runs on the alert worker itself, once per alert, before
    any other; every other one gets a channel of its own (``notifiers.channel``): its own queue
    and thread, retries with jittered backoff, ``RetryLater`` honoured, a circuit breaker. So a
    chat server that hangs delays nothing but its own posts.

    A subclass must set ``name`` (the key in ``test_alert_system()["notifier_results"]`` and in
    ``get_stats()``); it is checked when the class is defined, as sanic-ext checks its
    ``Extension`` subclasses.
    """

    name: ClassVar[str]
    local: ClassVar[bool] = False  # fast, no network: runs inline on the alert worker
    # Where a failure that is not a failed delivery goes (the monitor's error log).
    report_error: Callable[[str, BaseException], None] = staticmethod(_unreported)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name", getattr(cls, "name", None))
        if not inspect.isabstract(cls) and (not isinstance(name, str) or not name):
            raise TypeError(f"{cls.__qualname__} must set a class attribute 'name' "
                            "(a non-empty string naming the channel)")

    @abstractmethod
    def send(self, alert: Alert) -> None:
        """Deliver one alert."""

    def send_test(self) -> None:
        """Deliver a test message proving the configuration works end to end.

        By default a synthetic alert (endpoint ``web-performance-monitor test``) goes through
        ``send``; override it where a channel has a lighter check.
        """
        self.send(sample_alert())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def sample_alert() -> Alert:
    """A synthetic alert for ``send_test``: no request data, nothing that looks like a problem."""
    event = SlowEvent(kind="function", endpoint="web-performance-monitor test", duration=0.0,
                      threshold=0.0, started_at=time.time(), pid=os.getpid(), thread="test")
    text = "web-performance-monitor: test alert. Alerts for slow endpoints will arrive here."
    return Alert(event=event, suppressed_before=0, title="web-performance-monitor test",
                 message=text, html=f"<!DOCTYPE html><p>{text}</p>",
                 filename="wpm_test-alert.html")
