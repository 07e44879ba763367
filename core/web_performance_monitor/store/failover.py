"""The configured store, and an in-process stand-in while it fails (``FailoverStore``)."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..history import AlertRecord, HeldBack, OpenWindow
from ..log import logger
from .base import AlertStore, Claim, Key
from .memory import MemoryStore

T = TypeVar("T")


# One stand-in per configured store and process, shared by its monitors: during an outage,
# threads and monitors of a process still agree on one claim per endpoint.
_stand_ins: weakref.WeakValueDictionary[str, MemoryStore] = weakref.WeakValueDictionary()
_stand_ins_lock = threading.Lock()


def _stand_in(name: str) -> MemoryStore:
    with _stand_ins_lock:
        store = _stand_ins.get(name)
        if store is None:
            store = _stand_ins[name] = MemoryStore()
        return store


class FailoverStore(AlertStore):
    """The configured store, and an in-memory stand-in while it fails; it heals by itself.

    After a failure (counted and logged once through ``report_error``) the stand-in answers
    for ``retry_seconds``, so an outage costs one timeout, not one per alert. Then the
    configured store is tried again; once it answers, it first takes in the stand-in's windows,
    counts and alerts (``merge``), so an endpoint alerted during the outage is not alerted
    again. Reads during an outage answer from the stand-in: ``degraded`` says so.
    """

    retry_seconds = 30.0

    def __init__(self, store: AlertStore, name: str,
                 report_error: Callable[[str, BaseException], None]) -> None:
        self.store = store
        self.stand_in = _stand_in(name)
        self._report_error = report_error
        self._lock = threading.Lock()
        self._down_until: float | None = None  # monotonic time of the next try, while down

    @property
    def degraded(self) -> bool:
        """True while the stand-in answers: what is read covers this process's outage only."""
        with self._lock:
            return self._down_until is not None

    def _run(self, action: Callable[[AlertStore], T]) -> T:
        with self._lock:
            down_until = self._down_until
        if down_until is not None:
            if time.monotonic() < down_until:
                return action(self.stand_in)
            try:
                self.store.merge(*self.stand_in.take_all())
            except Exception as exc:
                return self._fail(exc, action)
            with self._lock:
                self._down_until = None
            logger.info("web_performance_monitor: the alert store answers again")
        try:
            return action(self.store)
        except Exception as exc:
            return self._fail(exc, action)

    def _fail(self, exc: Exception, action: Callable[[AlertStore], T]) -> T:
        self._report_error("using the alert store", exc)
        with self._lock:
            self._down_until = time.monotonic() + self.retry_seconds
        return action(self.stand_in)

    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        return self._run(lambda store: store.claim(endpoint, window_seconds, service=service))

    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        self._run(lambda store: store.suppress(endpoint, count, service=service,
                                               duration=duration, at=at))

    def release(self, claim: Claim) -> None:
        self._run(lambda store: store.release(claim))

    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        self._run(lambda store: store.merge(windows, suppressed, records))

    def record(self, alert: AlertRecord) -> None:
        self._run(lambda store: store.record(alert))

    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        return self._run(lambda store: store.history(service, endpoint, since, limit))

    def held(self, service: str | None = None) -> list[HeldBack]:
        return self._run(lambda store: store.held(service))

    def windows(self, service: str | None = None) -> list[OpenWindow]:
        return self._run(lambda store: store.windows(service))

    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        return self._run(lambda store: store.reset_window(service, endpoint))

    def prune(self, now: float | None = None) -> int:
        return self._run(lambda store: store.prune(now))

    def close(self) -> None:
        self.store.close()
