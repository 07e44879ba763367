"""The library's one logger and its one error boundary.

The monitor runs inside someone else's application: it must never raise into it, and it must
never hide its own failures either. Every internal step that can fail runs under
``ErrorLog.guard``, which logs each *kind* of failure once at WARNING (later ones at DEBUG, so a
broken notifier does not flood the host's logs) and counts all of them for ``get_stats()``.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from .masking import safe_text, scrub, secrets_registered

LOGGER_NAME = "web_performance_monitor"
MAX_LINE_CHARS = 1000  # a log line of this library, whatever text it carries
MAX_ERROR_CHARS = 200  # the message part of a failure line

logger = logging.getLogger(LOGGER_NAME)


class _SecretFilter(logging.Filter):
    """Every record of this library: registered secret values (``masking.register_secret``)
    replaced, odd text (a lone surrogate) escaped, the line bounded in length."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = safe_text(scrub(message) if secrets_registered() else message)
        if len(cleaned) > MAX_LINE_CHARS:
            cleaned = cleaned[:MAX_LINE_CHARS] + f"... [{len(cleaned) - MAX_LINE_CHARS} more]"
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


logger.addFilter(_SecretFilter())


class _DefaultHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Flask's ``default_handler`` idea: this library's lines reach stderr while the application
    has configured no logging at all (no handler on the root logger or on ours), so a new user
    sees that monitoring started and where reports go. Once the application configures logging,
    the lines go through its handlers only, unchanged. Decided per record: applications often
    configure logging after creating their extensions."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(
            "[%(asctime)s] %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if application_logs():
            return
        self.setStream(sys.stderr)  # the current one (a test runner or daemon may swap it)
        super().emit(record)


default_handler = _DefaultHandler()
logger.addHandler(default_handler)


def application_logs() -> bool:
    """Whether the application configured logging that would show this library's records."""
    if logging.getLogger().handlers:
        return True
    return any(handler is not default_handler for handler in logger.handlers)


def short_error(exc: BaseException) -> str:
    """``Type: message`` on one short line.

    Not ``repr(exc)``: a ``UnicodeEncodeError``'s repr holds the whole text it failed on (a
    rendered report, hundreds of KB).
    """
    try:
        text = " ".join(str(exc).split())
    except Exception:  # an exception whose __str__ fails
        text = "<message unavailable>"
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "..."
    return f"{type(exc).__qualname__}: {text}" if text else type(exc).__qualname__


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
        if first:  # the line is short; the traceback follows at DEBUG
            logger.warning("web_performance_monitor: %s failed: %s", what, short_error(exc))
            logger.debug("web_performance_monitor: %s failed", what, exc_info=exc)
        else:
            logger.debug("web_performance_monitor: %s failed again: %s", what, short_error(exc))

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
