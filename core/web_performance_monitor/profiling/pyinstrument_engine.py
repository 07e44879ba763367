"""The ``profiler="pyinstrument"`` engine: pyinstrument's own ``Profiler`` around each request.

It sees every call of every request (a profile hook), so it costs every request ~55 µs plus
~0.2 µs per Python call; the sampler is the default for that reason.

A kept session is held to the sampler's caps (``base.bounded``: depth, samples, frames in all),
so a deep recursion gives a report of the same bounded size with either engine.

pyinstrument allows one profiler per thread or async context; a nested monitored call (a
decorated function inside a monitored request) is therefore timed but not profiled on its own:
its time shows inside the enclosing request's profile.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pyinstrument

from ..capture.context import enter
from .base import (
    FAILED,
    NESTED,
    SKIPPED,
    Profiler,
    ProfileResult,
    ProfileRun,
    Span,
    _NoProfile,
    bounded,
)

_perf = time.perf_counter
_active: contextvars.ContextVar[_PyinstrumentRun | None] = contextvars.ContextVar(
    "wpm_active_profile", default=None
)


class _PyinstrumentRun(ProfileRun):
    __slots__ = ("_profiler", "running")

    def __init__(self, profiler: pyinstrument.Profiler) -> None:
        self._profiler = profiler
        self.running = True

    def stop(self, keep: bool) -> ProfileResult | None:
        if not self.running:
            return ProfileResult(note="the profile was discarded") if keep else None
        self.running = False
        if _active.get() is self:
            _active.set(None)
        session = self._profiler.stop()
        if not keep:
            return None
        session.frame_records = bounded(session.frame_records)
        session.sample_count = len(session.frame_records)
        return ProfileResult(session=session)


class PyinstrumentProfiler(Profiler):
    """pyinstrument's own ``Profiler`` started and stopped around each request."""

    name = "pyinstrument"

    def __init__(self, interval: float = 0.001) -> None:
        super().__init__(interval)

    def begin(self, takeover: bool = True) -> Span:
        started = _perf()
        run: ProfileRun = FAILED
        slot = holder = None
        try:
            run = self._start(takeover) if self._profile_this_one() else SKIPPED
            if run is not NESTED:  # a nested call's queries are its enclosing request's
                loop = asyncio._get_running_loop()
                task = asyncio.current_task(loop) if loop is not None else None
                slot, holder = enter(threading.get_ident() if task is None else task)
        except Exception as exc:
            self.report_error("starting the profiler", exc)
        now = _perf()
        return (now, run, now - started, slot, holder)

    def _start(self, takeover: bool) -> ProfileRun:
        current = _active.get()
        if current is not None and current.running:
            if not takeover:
                return NESTED
            current.stop(keep=False)
        profiler = pyinstrument.Profiler(interval=self.interval, async_mode="enabled")
        try:
            profiler.start()
        except RuntimeError as exc:  # another profiler (not ours) already runs here
            return _NoProfile(f"profile unavailable: {exc}")
        run = _PyinstrumentRun(profiler)
        _active.set(run)
        return run
