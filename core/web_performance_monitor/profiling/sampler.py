"""The default profiling engine: one sampler thread that only looks at requests that run long.

Why not pyinstrument's own ``Profiler`` per request: it costs a fixed ~55 µs to start and stop
plus ~0.2 µs per Python call of *every* request (it installs a profile hook), and it stretches
the very request it measures. Here a request pays a dict insert when it begins and a dict delete
when it ends. A single background thread wakes every ``interval`` and samples, through
``sys._current_frames()``, only the requests that have run past ``trigger`` (fast requests are
never sampled at all). Samples become a ``pyinstrument.session.Session`` only for slow
requests, so pyinstrument's renderers draw the report.

Threads are keyed by thread id; async code (Sanic, ASGI, async Django views, async decorated
functions) is keyed by asyncio task. The task running on the loop thread is charged the loop
thread's stack trimmed at the task's coroutine; a waiting task is charged ``[await]`` at the end
of its ``cr_await`` chain. So every report holds its own request's frames, never a neighbour's.

Frame identifiers are built from code objects only (never ``f_locals``, which would create
locals on a foreign frame), in pyinstrument's ``name\\x00file\\x00line`` form.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from pyinstrument.frame import AWAIT_FRAME_IDENTIFIER
from pyinstrument.session import Session

from .base import (
    FAILED,
    NESTED,
    SKIPPED,
    Profiler,
    ProfileResult,
    ProfileRun,
    Span,
    request_boundaries,
)

NOT_SAMPLED = "[not sampled: before trigger]\x00<web_performance_monitor>\x000"
TRUNCATED = "[deep stack truncated]\x00<web_performance_monitor>\x000"
REQUEST_ROOT = "[request]\x00<web_performance_monitor>\x000"  # no sample found its boundary
MAX_DEPTH = 800  # frames kept per sample (a 10,000-deep recursion keeps its leaf side)
MAX_SAMPLES = 4000  # per request; beyond it samples are merged pairwise and the stride doubles

_get_running_loop = asyncio._get_running_loop
# asyncio.current_task is a Python function before 3.12, around this very dict lookup; it runs
# on every async request. From 3.12 on it is written in C.
_current_task = (
    asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]
    if sys.version_info < (3, 12) else asyncio.current_task)
_perf = time.perf_counter
_get_ident = threading.get_ident
_identifiers: dict[CodeType, str] = {}


def identifier(code: CodeType) -> str:
    """pyinstrument's frame identifier for ``code`` (cached: code objects are long-lived)."""
    ident = _identifiers.get(code)
    if ident is None:
        if len(_identifiers) > 100_000:
            _identifiers.clear()
        ident = f"{code.co_name}\x00{code.co_filename}\x00{code.co_firstlineno}"
        _identifiers[code] = ident
    return ident


def _stack(frame: FrameType | None, stop: FrameType | None) -> list[str]:
    """Identifiers from the outermost frame below ``stop`` down to ``frame``."""
    codes: list[CodeType] = []
    while frame is not None and frame is not stop:
        codes.append(frame.f_code)
        if len(codes) >= MAX_DEPTH:
            stack = [identifier(c) for c in reversed(codes)]
            return [TRUNCATED, *stack]
        frame = frame.f_back
    return [identifier(c) for c in reversed(codes)]


def _thread_stack(frame: FrameType | None) -> tuple[list[str], CodeType | None]:
    """A thread's stack below its outermost request boundary (an adapter's code), and that code.

    A stack deeper than ``MAX_DEPTH`` keeps its leaf side, marked as truncated.
    """
    codes: list[CodeType] = []
    cut = 0
    while frame is not None and len(codes) < MAX_DEPTH:
        code = frame.f_code
        codes.append(code)
        if code in request_boundaries:
            cut = len(codes)
        frame = frame.f_back
    if frame is not None:
        return [TRUNCATED, *(identifier(c) for c in reversed(codes))], None
    top = codes[cut - 1] if cut else None
    return [identifier(c) for c in reversed(codes[: cut - 1 if cut else len(codes)])], top


def _awaiting_stack(task: asyncio.Task[Any]) -> list[str]:
    """Where a suspended task waits: its coroutine chain, then ``[await]``."""
    codes: list[CodeType] = []
    awaitable: Any = task.get_coro()
    while awaitable is not None and len(codes) < MAX_DEPTH:
        frame = (getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
                 or getattr(awaitable, "ag_frame", None))
        if frame is None:
            break
        codes.append(frame.f_code)
        awaitable = (getattr(awaitable, "cr_await", None)
                     or getattr(awaitable, "gi_yieldfrom", None)
                     or getattr(awaitable, "ag_await", None))
    return [*(identifier(c) for c in codes), AWAIT_FRAME_IDENTIFIER]


class _Samples:
    """What the sampler thread collected for one request: (stack, time it stands for).

    Made and filled by the sampler thread only, once the request is past the trigger.
    """

    __slots__ = ("last", "records", "stride", "ticks", "top")

    def __init__(self, first: list[str], start: float, now: float, top: CodeType | None) -> None:
        self.records: list[tuple[list[str], float]] = [([NOT_SAMPLED], now - start), (first, 0.0)]
        self.last = now  # perf_counter of the last sample
        self.stride = 1
        self.ticks = 1
        self.top = top  # the request boundary the stacks hang from (threads only)

    def add(self, stack: list[str], now: float) -> None:
        self.ticks += 1
        if self.ticks % self.stride:
            return
        records = self.records
        previous, weight = records[-1]
        records[-1] = (previous, weight + now - self.last)
        records.append((stack, 0.0))
        self.last = now
        if len(records) >= MAX_SAMPLES:
            merged = [records[0]]
            body = records[1:]
            for i in range(0, len(body) - 1, 2):
                merged.append((body[i][0], body[i][1] + body[i + 1][1]))
            if len(body) % 2:
                merged.append(body[-1])
            self.records = merged
            self.stride *= 2


# One request as the sampler sees it: (start, thread id, asyncio task or None, samples).
# A plain tuple, made on every request (a tuple display: no class is instantiated); the
# sampler thread puts one _Samples in the list at the request's first sample.
_Registration = tuple[float, int, "asyncio.Task[Any] | None", list[_Samples]]


class SamplingProfiler(Profiler):
    """The sampling engine (``profiler="sampler"``, the default)."""

    name = "sampler"

    def __init__(self, interval: float = 0.005, trigger: float = 0.01) -> None:
        super().__init__(interval)
        self.trigger = trigger
        self.busy_seconds = 0.0  # time the sampler thread spent sampling (its overhead)
        # thread id or asyncio task -> its request. Cleared in place after a fork, never
        # replaced: ``discard`` is its bound ``pop``, by key (a server closes a response before
        # its thread's next request; a response closed after that would release the newer one).
        self._runs: dict[Any, _Registration] = {}
        self.discard = self._runs.pop  # type: ignore[assignment]
        # The process's sampler thread once this profiler is on its list (``begin`` reads it
        # on every request: None means "join the thread", the only check the request pays).
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._due = 0.0  # perf_counter of this profiler's next wake-up
        # Called by the sampler thread with its own busy share over each ``BUSY_WINDOW``
        # (the monitor's overhead backoff): the thread's cost grows with threads x depth,
        # between the request-count checks that would otherwise not see it.
        self.on_busy: Callable[[SamplingProfiler, float], None] | None = None
        self._window = (_perf(), 0.0)  # (start of the busy window, busy_seconds then)
        _samplers.add(self)

    # --- request path ----------------------------------------------------------------

    def begin(self, takeover: bool = True) -> Span:
        """Registers the request for the sampler thread: a dict insert, nothing else.

        The run handed back is the registration's key (the thread id or the asyncio task), so
        ``discard`` is the registry's own C-level ``pop``.
        """
        started = _perf()
        key: Any = FAILED
        try:
            if self.every == 1 or self._profile_this_one():
                loop = _get_running_loop()
                thread_id = _get_ident()
                task = _current_task(loop) if loop is not None else None
                key = thread_id if task is None else task
                runs = self._runs
                # A request still registered under this key was abandoned: replaced.
                if takeover or key not in runs:
                    runs[key] = (started, thread_id, task, [])
                    if self._thread is None:
                        self._start_thread()
                else:
                    key = NESTED
            else:
                key = SKIPPED
        except Exception as exc:
            self.report_error("starting the profiler", exc)
        now = _perf()
        return (now, key, now - started)

    def end(self, run: Any, keep: bool) -> ProfileResult | None:
        """``run`` is the registration key ``begin`` handed back (or a ``ProfileRun`` sentinel)."""
        if isinstance(run, ProfileRun):  # FAILED, NESTED, SKIPPED
            return super().end(run, keep)
        record = self._runs.pop(run, None)
        if not keep:
            return None
        if record is None:
            return ProfileResult(note="the profile was discarded (an abandoned request)")
        return self._result(record)

    def _result(self, registration: _Registration) -> ProfileResult:
        """The slow request's samples as a pyinstrument session (built only for alerts)."""
        start, _, task, holder = registration
        end = _perf()
        samples = holder[0] if holder else None
        if samples is None:
            records = [([NOT_SAMPLED], end - start)]
            note = ("the request ended before the sampler's trigger "
                    f"({self.trigger * 1000:.0f} ms): nothing to show")
        else:
            records = list(samples.records)
            stack, weight = records[-1]
            records[-1] = (stack, weight + end - samples.last)
            note = None
        if task is not None:
            root = identifier(task.get_coro().cr_code)  # type: ignore[union-attr]
        elif samples is not None and samples.top is not None:
            root = identifier(samples.top)
        else:
            root = REQUEST_ROOT
        session = Session(
            frame_records=records,
            start_time=time.time() - (end - start),
            duration=end - start,
            min_interval=self.interval,
            max_interval=self.interval * (samples.stride if samples is not None else 1),
            sample_count=len(records),
            start_call_stack=[root],
            target_description="web-performance-monitor sampled profile",
            cpu_time=0.0,
            sys_path=sys.path,
            sys_prefixes=Session.current_sys_prefixes(),
        )
        return ProfileResult(session=session, note=note)

    # --- the sampler thread ----------------------------------------------------------

    def _start_thread(self) -> None:
        """Put this profiler on the process's sampler thread (starting it if none runs)."""
        global _thread
        with _lock:
            if self._stopped:
                return
            _watched.add(self)
            _joined.set()  # the thread may be asleep for another profiler: plan again
            if _thread is None:
                _thread = threading.Thread(target=_sampler_thread, name="wpm-sampler",
                                           daemon=True)
                _thread.start()
            self._thread = _thread

    def _tick(self) -> float:
        """One wake-up: sample the requests past the trigger; how long to sleep next.

        Each wake-up takes the GIL from the application, so the thread sleeps until the oldest
        running request reaches the trigger, and only then every ``interval``.
        """
        # dict.copy runs in C under the GIL: request threads may register meanwhile, and
        # iterating the live dict here would raise "dictionary changed size during iteration".
        runs = self._runs.copy().items()
        now = _perf()
        due = [(key, entry) for key, entry in runs if now - entry[0] >= self.trigger]
        if due:
            self._sample(due, now)
            self.busy_seconds += _perf() - now
            return self.interval
        if runs:
            oldest = min(entry[0] for _, entry in runs)
            return max(self.trigger - (now - oldest), 0.001)
        # Idle: look again at the next multiple of ``trigger`` on the clock, so the idle
        # profilers of many monitors wake the shared thread once, not once each.
        return self.trigger - now % self.trigger

    def _check_busy(self, now: float) -> None:
        """Once per ``BUSY_WINDOW``: tell ``on_busy`` the share of it this profiler sampled."""
        start, busy = self._window
        if now - start >= BUSY_WINDOW:
            self._window = (now, self.busy_seconds)
            if self.on_busy is not None:
                self.on_busy(self, (self.busy_seconds - busy) / (now - start))

    def _sample(self, due: list[tuple[Any, _Registration]], now: float) -> None:
        frames = sys._current_frames()
        running: dict[int, Any] = {}
        runs = self._runs
        for key, entry in due:
            start, thread_id, task, holder = entry
            if task.done() if task is not None else thread_id not in frames:
                # A cancelled request task, or a thread gone: that request never ends itself.
                if runs.get(key) is entry:
                    runs.pop(key, None)
                continue
            top = None
            try:
                if task is None:
                    stack, top = _thread_stack(frames.get(thread_id))
                else:
                    if thread_id not in running:
                        running[thread_id] = _current_task(task.get_loop())
                    if running[thread_id] is task:
                        coro_frame = getattr(task.get_coro(), "cr_frame", None)
                        stack = _stack(frames.get(thread_id),
                                       coro_frame.f_back if coro_frame is not None else None)
                    else:
                        stack = _awaiting_stack(task)
            except Exception as exc:  # this request is skipped this tick; the others are not
                self.report_error("sampling one request", exc)
                continue
            if stack and runs.get(key) is entry:  # still running
                if holder:
                    holder[0].add(stack, now)
                else:
                    holder.append(_Samples(stack, start, now, top))

    def close(self) -> None:
        self._stopped = True


BUSY_WINDOW = 1.0  # seconds of wall-clock time over which the thread's own cost is judged
_lock = threading.Lock()
# The profilers the sampler thread serves: weak, so a profiler nobody uses is freed (and the
# thread ends when none is left). One thread per process however many monitors: each thread
# takes the GIL on every wake-up, so N monitors' threads would cost N times the switches.
_watched: weakref.WeakSet[SamplingProfiler] = weakref.WeakSet()
_thread: threading.Thread | None = None
_joined = threading.Event()


def _sampler_thread() -> None:
    """The sampler thread's life: wake each profiler when it is due, for as long as one is used.

    It holds a profiler only while awake. A failing tick is counted and logged once (through
    the profiler's ``report_error``) and sampling goes on; should the loop itself end by
    surprise, the profilers forget the thread, so the next request starts a new one.
    """
    global _thread
    try:
        while True:
            with _lock:
                samplers = [s for s in _watched if not s._stopped]
                if not samplers:  # nobody left to serve; a later ``begin`` starts a new thread
                    _thread = None
                    return
            now = _perf()
            wake = now + 1.0
            for sampler in samplers:
                if sampler._due <= now:
                    try:
                        pause = sampler._tick()
                        sampler._check_busy(_perf())
                    except Exception as exc:  # counted and logged once; sampling goes on
                        sampler.report_error("sampling running requests", exc)
                        pause = sampler.interval
                    sampler._due = _perf() + pause
                wake = min(wake, sampler._due)
            del samplers, sampler
            _joined.wait(max(wake - _perf(), 0.0005))
            _joined.clear()
    finally:
        with _lock:
            if _thread is threading.current_thread():
                _thread = None
                for sampler in list(_watched):
                    sampler._thread = None


_samplers: weakref.WeakSet[SamplingProfiler] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _lock, _thread, _joined
    _lock, _joined = threading.Lock(), threading.Event()
    _thread = None
    for sampler in list(_samplers):
        sampler._thread = None
        sampler._runs.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
