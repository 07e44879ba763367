"""A background thread with a bounded queue: everything slow happens here, off the request path.

The request path only calls ``submit`` (a non-blocking ``put``); when the queue is full the event
is dropped and counted, never waited for. The thread starts lazily and again in a forked child
(gunicorn's pre-fork workers inherit the object but not the thread).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

_STOP = object()


def _unreported(what: str, exc: BaseException) -> None:
    """When no error log is connected."""


class BackgroundWorker:
    """One daemon thread draining one bounded queue; failures go to ``report_error``."""

    def __init__(self, handle: Callable[[Any], None], maxsize: int, name: str = "wpm-alerts",
                 report_error: Callable[[str, BaseException], None] = _unreported) -> None:
        self._handle = handle
        self._report_error = report_error
        self._maxsize = maxsize
        self._name = name
        self._lock = threading.Lock()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.closed = False
        _after_fork.add(self)

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._queue = queue.Queue(self._maxsize)
        self._thread = None

    def start(self) -> None:
        """Start the thread now (it also starts by itself on the first ``submit``)."""
        self.closed = False
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def submit(self, item: Any) -> bool:
        """Queue ``item`` without blocking; False (and counted) when the queue is full.

        After ``close()`` (at interpreter exit) nothing is queued: a thread can no longer start.
        """
        if self.closed or sys.is_finalizing():
            self.dropped += 1
            return False
        self._ensure_thread()
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _run(self) -> None:
        q = self._queue
        while True:
            item = q.get()
            try:
                if item is _STOP:
                    return
                self._handle(item)
            except Exception as exc:  # counted in get_stats(); the thread goes on
                self._report_error("the background worker", exc)
            finally:
                q.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued items are handled; True when the queue drained in time."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if self._thread is None or not self._thread.is_alive():
                return not self._queue.unfinished_tasks
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout: float = 10.0, final: bool = False) -> bool:
        """Flush, then stop the thread (it restarts on the next submit unless ``final``)."""
        self.closed = final
        drained = self.flush(timeout)
        thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=max(0.0, timeout))
            except queue.Full:
                return False
            thread.join(timeout)
        self._thread = None
        return drained


_after_fork: weakref.WeakSet[BackgroundWorker] = weakref.WeakSet()


def _reset_all_after_fork() -> None:
    for worker in list(_after_fork):
        worker._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_all_after_fork)
