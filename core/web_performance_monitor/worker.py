"""Background threads with bounded queues: everything slow happens there, off the request path.

``submit`` never blocks: past the queue's item count or its byte budget an item is dropped and
counted, never waited for. The thread starts lazily, again after ``close`` and in a forked child
(gunicorn's pre-fork workers inherit the object but not the thread).

The thread holds its handler weakly (``weakref.WeakMethod``): the monitor or channel that owns a
worker can be freed while its thread waits for work, and the thread then ends. A strong handler
kept every monitor an app factory made alive, with its threads, for the life of the process.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

_IDLE = object()


def _unreported(what: str, exc: BaseException) -> None:
    """When no error log is connected."""


def _ignore(item: Any) -> None:
    """When dropped items need no follow-up."""


def _weak(handle: Callable[[Any], None]) -> Callable[[], Callable[[Any], None] | None]:
    """A callable returning ``handle``, or None once the object it is bound to is gone."""
    if isinstance(handle, types.MethodType):
        return weakref.WeakMethod(handle)
    return lambda: handle


_making = threading.Lock()  # held only while one primitive is made: never across a switch


class PerProcess:
    """A lock, condition or event made at its first use in each process.

    Not at construction or in the at-fork hook: a gunicorn gevent worker forks first and
    monkey-patches after, so a primitive made then is an OS lock, and a greenlet waiting on it
    blocks every greenlet of the process (a ``--preload``-ed app hung on its first slow
    request). ``forget(owner)`` (the at-fork hook) drops the ones made so far.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._attr = f"_made_{name}"

    def __get__(self, owner: Any, kind: type | None = None) -> Any:
        made = owner.__dict__.get(self._attr)
        if made is None:
            with _making:
                made = owner.__dict__.get(self._attr)
                if made is None:
                    made = owner.__dict__[self._attr] = self._factory()
        return made

    @staticmethod
    def forget(owner: Any) -> None:
        for name in [name for name in owner.__dict__ if name.startswith("_made_")]:
            del owner.__dict__[name]


class BackgroundWorker:
    """One daemon thread draining one bounded queue; failures go to ``report_error``.

    ``maxsize`` bounds the items, ``max_bytes`` (0: no bound) the sum of the sizes ``submit`` is
    told; an item larger than the whole budget is still taken into an empty queue, so one alert
    is never refused for its size alone. ``on_drop`` hears of every item dropped (queue full, or
    still queued when ``close`` gave up), so its owner can settle it.
    """

    def __init__(self, handle: Callable[[Any], None], maxsize: int, max_bytes: int = 0,
                 name: str = "wpm-alerts",
                 report_error: Callable[[str, BaseException], None] = _unreported,
                 on_drop: Callable[[Any], None] = _ignore) -> None:
        self._handler = _weak(handle)
        self._report_error = report_error
        self._on_drop = _weak(on_drop)  # a channel's method: held weakly too
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        self._name = name
        self._reset_after_fork()
        self.dropped = 0
        self.closed = False
        if isinstance(handle, types.MethodType):  # its owner freed: the thread ends
            weakref.finalize(handle.__self__, self._owner_gone)
        after_fork.add(self)

    _cond = PerProcess(lambda: threading.Condition(threading.Lock()))

    def _reset_after_fork(self) -> None:
        PerProcess.forget(self)
        self._items: deque[tuple[Any, int]] = deque()
        self.queued_bytes = 0
        self._current: Any = _IDLE
        self._thread: threading.Thread | None = None
        self._stopping = False

    def __len__(self) -> int:
        return len(self._items)

    def start(self) -> None:
        """Start the thread now (it also starts by itself on the first ``submit``)."""
        self.closed = False
        with self._cond:
            self._stopping = False
            self._ensure_thread()

    def _ensure_thread(self) -> None:
        """Under ``_cond``: the thread clears ``_thread`` under it too, just before it ends."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def submit(self, item: Any, size: int = 0) -> bool:
        """Queue ``item`` (about ``size`` bytes) without blocking; False (and counted) when full.

        After a final ``close()`` (at interpreter exit) nothing is queued: a thread can no longer
        start.
        """
        with self._cond:
            waiting = len(self._items)
            full = (self.closed or sys.is_finalizing() or waiting >= self._maxsize
                    or (self._max_bytes > 0 and waiting > 0
                        and self.queued_bytes + size > self._max_bytes))
            if full:
                self.dropped += 1
            else:
                self._items.append((item, size))
                self.queued_bytes += size
                self._stopping = False
                self._ensure_thread()
                self._cond.notify()
        if full:
            self._dropped(item)
        return not full

    def _run(self) -> None:
        cond, items = self._cond, self._items
        try:
            while True:
                with cond:
                    while not items and not self._stopping:
                        cond.wait()
                    handler = self._handler() if items else None
                    if handler is None:  # stopped and drained, or the owner is gone
                        self._thread = None  # under the lock: a submit from now on starts one
                        cond.notify_all()
                        return
                    item, size = items.popleft()
                    self.queued_bytes -= size
                    self._current = item
                try:
                    handler(item)
                except Exception as exc:  # counted in get_stats(); the thread goes on
                    self._report_error("the background worker", exc)
                finally:
                    del handler, item
                    with cond:
                        self._current = _IDLE
                        cond.notify_all()
        finally:  # also when the thread dies of a BaseException
            with cond:
                if self._thread is threading.current_thread():
                    self._thread = None
                cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued items are handled; True when the queue drained in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items or self._current is not _IDLE:
                remaining = deadline - time.monotonic()
                if self._thread is None or remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = 10.0, final: bool = False) -> bool:
        """Flush within ``timeout``, then stop the thread; True when everything was handled.

        What is still queued then is dropped and counted (``on_drop`` hears of each); at a
        ``final`` close (interpreter exit) the item being handled is given up as well. The
        thread restarts on the next ``submit`` unless ``final``.
        """
        self.closed = final
        drained = self.flush(timeout)
        with self._cond:
            left = [item for item, _ in self._items]
            if final and self._current is not _IDLE:
                left.append(self._current)
            self._items.clear()
            self.queued_bytes = 0
            self.dropped += len(left)
            self._stopping = True
            self._cond.notify_all()
        for item in left:
            self._dropped(item)
        return drained

    def count_dropped(self, n: int = 1) -> None:
        """Count items given up outside the queue (by the handler, or folded into one)."""
        with self._cond:
            self.dropped += n

    def _dropped(self, item: Any) -> None:
        on_drop = self._on_drop()
        if on_drop is not None:
            on_drop(item)

    def _owner_gone(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()


class ForkSafe(Protocol):
    """An object whose locks and threads must be made anew in a forked child."""

    def _reset_after_fork(self) -> None: ...


# Every object holding locks or threads (workers, channels): a forked child (gunicorn's pre-fork
# workers) inherits them but not the threads, and a lock held at fork time would stay held.
after_fork: weakref.WeakSet[ForkSafe] = weakref.WeakSet()


def _reset_all_after_fork() -> None:
    global _making
    _making = threading.Lock()
    for owner in list(after_fork):
        owner._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_all_after_fork)
