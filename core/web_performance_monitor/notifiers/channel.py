"""A network notifier's own queue and thread, its retries, and its circuit breaker.

One worker running every notifier in turn let a chat server that accepts connections and never
answers hold back every report behind it (4 of 30 local reports written before exit). Here the
alert worker writes the local report, then hands the alert to each channel without blocking;
each channel retries on its own thread:

- a bounded number of attempts (``notify_retries`` + 1), with jittered exponential backoff;
- ``RetryLater`` (HTTP 429 ``Retry-After``): nothing is sent to that server before the time it
  named (capped at ``max_wait``);
- after ``breaker_after`` alerts in a row failed every attempt, the breaker opens: logged once,
  counted, and the channel sends one probe after ``cooldown`` seconds (doubling up to
  ``max_cooldown`` while probes fail); alerts wait in the bounded queue meanwhile.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from ..events import Alert
from ..log import logger
from ..worker import BackgroundWorker, PerProcess, after_fork
from .base import Notifier, RetryLater


class Delivery:
    """One alert's fate across its notifiers: sent once one delivers, failed when all gave up.

    ``on_sent(name)`` runs once, at the first delivery; ``on_failed()`` once, if none delivered.
    """

    def __init__(self, pending: int, on_sent: Callable[[str], None],
                 on_failed: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._pending = pending
        self._delivered = False
        self._on_sent = on_sent
        self._on_failed = on_failed

    def settle(self, name: str, delivered: bool) -> None:
        """One notifier is done with the alert (delivered, or gave up)."""
        with self._lock:
            self._pending -= 1
            first = delivered and not self._delivered
            self._delivered = self._delivered or delivered
            failed = not self._delivered and self._pending == 0
        if first:
            self._on_sent(name)
        elif failed:
            self._on_failed()


class _Job:
    """An alert in one channel's queue; settled once, whether sent, failed or dropped."""

    __slots__ = ("alert", "delivery", "settled")

    def __init__(self, alert: Alert, delivery: Delivery) -> None:
        self.alert = alert
        self.delivery = delivery
        self.settled = False


class Channel:
    """Sends one notifier's alerts on its own thread (see the module docstring)."""

    breaker_after = 3  # alerts in a row that failed every attempt
    cooldown = 30.0  # seconds before the first probe of an open breaker
    max_cooldown = 600.0
    max_wait = 900.0  # the longest Retry-After honoured, in seconds
    grace = 0.1  # seconds for close() to see a waiting job given up (one in a network call
    # goes on to its own timeout; at exit it is counted as dropped)

    def __init__(self, notifier: Notifier, *, retries: int, retry_delay: float, queue_size: int,
                 queue_bytes: int, size: Callable[[Alert], int],
                 report_error: Callable[[str, BaseException], None],
                 count_failure: Callable[[str], None]) -> None:
        self.notifier = notifier
        self.name = notifier.name
        self.retries = retries
        self.retry_delay = retry_delay  # seconds before the first retry; doubles each time
        self._size = size
        self._report_error = report_error
        self._count_failure = count_failure
        self._reset_after_fork()
        self._not_before = 0.0  # monotonic time before which nothing is sent (Retry-After)
        self._failed_in_row = 0
        self._open_until = 0.0  # monotonic; 0 while the breaker is closed
        self._next_cooldown = self.cooldown
        self.trips = 0
        self.sent = 0  # alerts delivered
        self.failed = 0  # alerts that failed every attempt (dropped ones: the worker counts)
        self._worker = BackgroundWorker(self._send, queue_size, queue_bytes,
                                        name=f"wpm-{self.name}", report_error=report_error,
                                        on_drop=self._dropped)
        after_fork.add(self)

    _closing = PerProcess(threading.Event)  # set by close(): stop waiting, give up
    _settling = PerProcess(threading.Lock)  # close() may give up a job its thread still holds

    def _reset_after_fork(self) -> None:
        """Fresh locks in a forked child (gunicorn's workers): the parent's thread may have
        held one at the fork, and no thread there would ever release it."""
        PerProcess.forget(self)

    # --- fed by the alert worker ------------------------------------------------------

    def submit(self, alert: Alert, delivery: Delivery) -> None:
        """Queue ``alert``; a full queue drops it (counted, and settled as not delivered)."""
        self._closing.clear()
        self._worker.submit(_Job(alert, delivery), self._size(alert))

    def flush(self, timeout: float) -> bool:
        return self._worker.flush(timeout)

    def close(self, timeout: float, final: bool = False) -> bool:
        """Send what can be sent within ``timeout``; drop (and count) the rest."""
        drained = self._worker.flush(timeout)
        self._closing.set()  # a wait (backoff, Retry-After, breaker) ends and gives its job up
        self._worker.close(self.grace, final=final)
        return drained

    def state(self) -> dict[str, Any]:
        """For ``get_stats()["notifiers"]``."""
        return {"sent": self.sent, "failed": self.failed, "dropped": self._worker.dropped,
                "queued": len(self._worker), "queued_bytes": self._worker.queued_bytes,
                "breaker_open": self._open_until > 0, "breaker_trips": self.trips}

    def reset_counts(self) -> None:
        self._worker.dropped = 0
        self.trips = self.sent = self.failed = 0

    # --- the channel's thread ------------------------------------------------------------

    def _send(self, job: _Job) -> None:
        attempts = 1 if self._open_until else self.retries + 1
        for attempt in range(attempts):
            if not self._wait(max(self._not_before, self._open_until)):
                if self._settle(job, False):  # closing: given up (unless close() counted it)
                    self._worker.count_dropped()
                return
            try:
                self.notifier.send(job.alert)
            except RetryLater as exc:
                self._failed_attempt(exc)
                self._not_before = time.monotonic() + min(max(exc.seconds, 0.0), self.max_wait)
            except Exception as exc:
                self._failed_attempt(exc)
                if attempt < attempts - 1:
                    backoff = self.retry_delay * 2**attempt * random.uniform(0.5, 1.5)
                    self._not_before = time.monotonic() + backoff
            else:
                self._recovered()
                # Counted once per alert: close() may have counted it as dropped meanwhile.
                self.sent += self._settle(job, True)
                return
        self.failed += self._settle(job, False)
        self._failed_in_row += 1
        if self._open_until or self._failed_in_row >= self.breaker_after:
            self._trip()

    def _wait(self, until: float) -> bool:
        """Sleep until the monotonic time ``until``; False if the channel is closing."""
        remaining = until - time.monotonic()
        return remaining <= 0 or not self._closing.wait(remaining)

    def _failed_attempt(self, exc: Exception) -> None:
        self._report_error(f"sending an alert to {self.name}", exc)
        self._count_failure(self.name)

    def _trip(self) -> None:
        """Open the breaker, or keep it open after a failed probe (logged once per outage)."""
        log = logger.debug if self._open_until else logger.warning
        cooldown = max(self._next_cooldown, self._not_before - time.monotonic())
        self._open_until = time.monotonic() + cooldown
        self._next_cooldown = min(self._next_cooldown * 2, self.max_cooldown)
        self.trips += 1
        log("web_performance_monitor: %s is failing (%d alerts in a row); its alerts wait in "
            "its queue and it is tried again in %.0f s", self.name, self._failed_in_row, cooldown)

    def _recovered(self) -> None:
        if self._open_until:
            logger.info("web_performance_monitor: %s works again", self.name)
        self._failed_in_row = 0
        self._open_until = 0.0
        self._next_cooldown = self.cooldown

    def _dropped(self, job: _Job) -> None:
        self._settle(job, False)

    def _settle(self, job: _Job, delivered: bool) -> bool:
        """Tell the job's delivery, once; False when it was settled already."""
        with self._settling:
            first, job.settled = not job.settled, True
        if first:
            job.delivery.settle(self.name, delivered)
        return first
