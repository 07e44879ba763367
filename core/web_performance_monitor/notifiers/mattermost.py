"""Alerts as Mattermost posts with the report attached, through ``mattermostdriver``."""

from __future__ import annotations

import email.utils
import io
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from ..events import Alert
from ..log import logger
from ..masking import safe_text
from ..report import encode_text
from .base import Notifier, RetryLater

DEFAULT_RETRY_AFTER = 30.0  # seconds, for a 429 without a usable Retry-After
_ours = threading.local()


class _OwnCallsQuiet(logging.Filter):
    """mattermostdriver logs an ERROR line for every failed call. Ours are already counted and
    logged once by the monitor, so during our calls its records go to our logger at DEBUG; the
    host's own use of mattermostdriver logs as before."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_ours, "calling", False):
            logger.debug("web_performance_monitor: mattermostdriver: %s", record.getMessage())
            return False
        return True


_QUIET = _OwnCallsQuiet()
for _name in ("mattermostdriver.api", "mattermostdriver.websocket"):
    logging.getLogger(_name).addFilter(_QUIET)


@contextmanager
def _our_call() -> Iterator[None]:
    _ours.calling = True
    try:
        yield
    finally:
        _ours.calling = False


def retry_after(value: str | None, now: float | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110)."""
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return DEFAULT_RETRY_AFTER


class MattermostNotifier(Notifier):
    """Posts a short summary to a channel and attaches the HTML report.

    ``mattermostdriver`` waits forever by default; every request here carries ``timeout``.
    """

    name = "mattermost"

    def __init__(self, server_url: str, token: str, channel_id: str, timeout: float = 10.0) -> None:
        self.server_url = server_url
        self.channel_id = channel_id
        self._token = token
        self.timeout = timeout
        self._driver: Any = None

    def _connect(self) -> Any:
        if self._driver is None:
            from mattermostdriver import Driver  # the [mattermost] extra

            parts = urlsplit(self.server_url)
            scheme = parts.scheme
            driver = Driver({
                "url": parts.hostname,
                "scheme": scheme,
                "port": parts.port or (443 if scheme == "https" else 80),
                "basepath": (parts.path.rstrip("/") or "") + "/api/v4",
                "token": self._token,
                "request_timeout": self.timeout,
                "timeout": self.timeout,
            })
            driver.login()  # GET users/me: checks the token
            self._driver = driver
        return self._driver

    def _post(self, message: str, attachment: tuple[str, bytes] | None = None) -> None:
        with _our_call():
            try:
                self._call_server(message, attachment)
            except Exception as exc:
                response: Any = getattr(exc, "response", None)  # requests.HTTPError
                if getattr(response, "status_code", None) == 429:
                    raise RetryLater(retry_after(response.headers.get("Retry-After")),
                                     "Mattermost answered 429 Too Many Requests") from None
                raise

    def _call_server(self, message: str, attachment: tuple[str, bytes] | None) -> None:
        driver = self._connect()
        try:
            post: dict[str, Any] = {"channel_id": self.channel_id, "message": message}
            if attachment is not None:
                name, content = attachment
                upload = driver.files.upload_file(
                    channel_id=self.channel_id,
                    files={"files": (name, io.BytesIO(content), "text/html")},
                )
                post["file_ids"] = [info["id"] for info in upload["file_infos"]]
            driver.posts.create_post(options=post)
        except Exception:
            self._driver = None  # log in again next time (token rotated, server restarted)
            raise

    def send(self, alert: Alert) -> None:
        self._post(safe_text(alert.message), (alert.filename, encode_text(alert.html)))

    def send_test(self) -> None:
        self._post("web-performance-monitor: test alert. Alerts for slow endpoints will be "
                   "posted to this channel.")

    def close(self) -> None:
        self._driver = None
