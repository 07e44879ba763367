"""The library's one logger and its one error boundary.

The monitor runs inside someone else's application: it must never raise into it, and it must
never hide its own failures either. Every internal step that can fail runs under
``ErrorLog.guard``, which logs each *kind* of failure once at WARNING (later ones at DEBUG, so a
broken notifier does not flood the host's logs) and counts all of them for ``get_stats()``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from .masking import scrub, secrets_registered

LOGGER_NAME = "web_performance_monitor"

logger = logging.getLogger(LOGGER_NAME)
logger.addHandler(logging.NullHandler())


class _SecretFilter(logging.Filter):
    """Replaces registered secret values (``masking.register_secret``) in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if secrets_registered():
            message = record.getMessage()
            masked = scrub(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


logger.addFilter(_SecretFilter())


class ErrorLog:
    """Counts internal failures and logs each kind once, so faults are visible but not noisy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()
        self.counts: Counter[str] = Counter()

    def report(self, what: str, exc: BaseException) -> None:
        kind = (what, type(exc).__name__)
        with self._lock:
            first = kind not in self._seen
            self._seen.add(kind)
            self.counts[what] += 1
        if first:
            logger.warning("web_performance_monitor: %s failed: %r", what, exc, exc_info=exc)
        else:
            logger.debug("web_performance_monitor: %s failed again: %r", what, exc)

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run a block of monitor code; log and swallow its exceptions (never the host's)."""
        try:
            yield
        except Exception as exc:
            self.report(what, exc)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self._seen.clear()
