"""The default profiling engine: one sampler thread that only looks at requests that run long.

Why not pyinstrument's own ``Profiler`` per request: it costs a fixed ~55 µs to start and stop
plus ~0.2 µs per Python call of *every* request (it installs a profile hook), and it stretches
the very request it measures. Here a request pays a dict insert when it begins and a dict delete
when it ends. A single background thread wakes every ``interval`` and samples, through
``sys._current_frames()``, only the requests that have run past ``trigger`` (fast requests are
never sampled at all). Samples become a ``pyinstrument.session.Session`` only for slow
requests, so pyinstrument's renderers draw the report.

Threads are keyed by thread id; async code (Sanic, ASGI, async Django views, async decorated
functions) is keyed by asyncio task; greenlets (gevent, eventlet) by greenlet (``greenlets``).
The task running on the loop thread is charged the loop thread's stack trimmed at the task's
coroutine; a waiting task is charged what it waits for, under its ``cr_await`` chain: the child
tasks and worker threads doing its work (``handoff``), else ``[await]``. So every report holds
its own request's frames, wherever they ran, and never a neighbour's.

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

from pyinstrument.session import Session

from ..capture.context import set_slot, slot_of_context
from .base import (
    FAILED,
    MAX_DEPTH,
    MAX_SAMPLES,
    NESTED,
    SKIPPED,
    TRUNCATED,
    WAITING,
    Profiler,
    ProfileResult,
    ProfileRun,
    Span,
    bounded,
    label,
    request_boundaries,
)
from .greenlets import greenlet_ident, original, patched, start_os_thread, use_greenlets
from .handoff import Tick, frame_id, identifier, in_c_call, task_stacks, thread_cpu

NOT_SAMPLED = label("[not sampled: before trigger]")
REQUEST_ROOT = label("[request]")  # no sample found its boundary

_get_running_loop = asyncio._get_running_loop
# asyncio.current_task is a Python function before 3.12, around this very dict lookup; it runs
# on every async request. From 3.12 on it is written in C.
_current_task = (
    asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]
    if sys.version_info < (3, 12) else asyncio.current_task)
_perf = time.perf_counter
# A request's thread: ``threading.get_ident``, or ``(greenlet, OS thread id)`` once gevent or
# eventlet patching is seen (``_watch_greenlets``). A module global: ``begin`` reads it anyway.
_get_ident: Any = threading.get_ident


def _greenlet_frame(glet: Any, thread_id: int) -> FrameType | None:
    """A greenlet's innermost frame: its own ``gr_frame`` while it waits; while it runs (no
    ``gr_frame``), its OS thread's, read now (the tick's snapshot may show another greenlet)."""
    frame: FrameType | None = glet.gr_frame
    if frame is None:
        frame = sys._current_frames().get(thread_id)
        if glet.gr_frame is not None:  # it switched out meanwhile
            frame = glet.gr_frame
    return frame


def _thread_stack(frame: FrameType | None, idle: bool) -> tuple[list[str], CodeType | None]:
    """A thread's stack below its outermost request boundary (an adapter's code), and that code.

    A stack deeper than ``MAX_DEPTH`` keeps its leaf side, marked as truncated. ``idle``: see
    ``handoff.stack`` (a leaf in a C call is waiting there).
    """
    frames: list[FrameType] = []
    cut = 0
    leaf = frame
    while frame is not None and len(frames) < MAX_DEPTH:
        frames.append(frame)
        if frame.f_code in request_boundaries:
            cut = len(frames)
        frame = frame.f_back
    if frame is not None:
        return [TRUNCATED, *(frame_id(f) for f in reversed(frames))], None
    top = frames[cut - 1].f_code if cut else None
    ids = [frame_id(f) for f in reversed(frames[: cut - 1 if cut else len(frames)])]
    if ids and idle and leaf is not None and in_c_call(leaf):
        ids.append(WAITING)
    return ids, top


class _Samples:
    """What the sampler thread collected for one request: (stack, time it stands for).

    Made and filled by the sampler thread only, once the request is past the trigger. One
    sample may hold several stacks (a request waiting on several child tasks or threads): the
    time until the next sample is shared evenly between them, so the tree still adds up.
    """

    __slots__ = ("cpu", "group", "last", "records", "stride", "ticks", "top")

    def __init__(self, first: list[list[str]], start: float, now: float,
                 top: CodeType | None) -> None:
        self.records: list[tuple[list[str], float]] = [([NOT_SAMPLED], now - start)]
        self.records += [(stack, 0.0) for stack in first]
        self.group = len(first)  # stacks of the last sample, still waiting for their time
        self.last = now  # perf_counter of the last sample
        self.stride = 1
        self.ticks = 1
        self.top = top  # the request boundary the stacks hang from (threads only)
        # (CPU seconds of the request's thread at the first sample, its perf_counter); None
        # for tasks and greenlets (their thread runs other work too) or where unmeasurable.
        self.cpu: tuple[float, float] | None = None

    def _settle(self, now: float) -> None:
        """Give the last sample's stacks the time since it was taken."""
        records = self.records
        share = (now - self.last) / self.group
        for i in range(len(records) - self.group, len(records)):
            stack, weight = records[i]
            records[i] = (stack, weight + share)
        self.last = now

    def add(self, stacks: list[list[str]], now: float) -> None:
        self.ticks += 1
        if self.ticks % self.stride:
            return
        self._settle(now)
        records = self.records
        if len(records) + len(stacks) > MAX_SAMPLES:
            merged = [records[0]]
            body = records[1:]
            for i in range(0, len(body) - 1, 2):
                merged.append((body[i][0], body[i][1] + body[i + 1][1]))
            if len(body) % 2:
                merged.append(body[-1])
            self.records = records = merged
            self.stride *= 2
        records += [(stack, 0.0) for stack in stacks]
        self.group = len(stacks)

    def until(self, end: float) -> list[tuple[list[str], float]]:
        """The records, the last sample's stacks given the time until ``end``."""
        self._settle(end)
        return list(self.records)


# One request as the sampler sees it: (start, thread id or (greenlet, thread id), asyncio task
# or None, samples).
# A plain tuple, made on every request (a tuple display: no class is instantiated); the
# sampler thread puts one _Samples in the list at the request's first sample.
_Registration = tuple[float, "int | tuple[Any, int]", "asyncio.Task[Any] | None", list[_Samples]]


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
        self._thread: object | None = None
        self._stopped = False
        self._due = 0.0  # perf_counter of this profiler's next wake-up
        # Called by the sampler thread with its own busy share over each ``BUSY_WINDOW``
        # (the monitor's overhead backoff): the thread's cost grows with threads x depth,
        # between the request-count checks that would otherwise not see it.
        self.on_busy: Callable[[SamplingProfiler, float], None] | None = None
        self._window = (_perf(), 0.0)  # (start of the busy window, busy_seconds then)
        _samplers.add(self)
        _watch_greenlets()

    # --- request path ----------------------------------------------------------------

    def begin(self, takeover: bool = True) -> Span:
        """Registers the request for the sampler thread: a dict insert, nothing else.

        The run handed back is the registration's key (the thread id or the asyncio task), so
        ``discard`` is the registry's own C-level ``pop``.
        """
        started = _perf()
        key: Any = FAILED
        slot = holder = None
        try:
            loop = _get_running_loop()
            thread_id = _get_ident()
            task = _current_task(loop) if loop is not None else None
            owner = thread_id if task is None else task
            if self.every == 1 or self._profile_this_one():
                key = owner
                runs = self._runs
                # A request still registered under this key was abandoned: replaced.
                if takeover or key not in runs:
                    runs[key] = (started, thread_id, task, [])
                    if self._thread is None:
                        self._start_thread()
                    elif _asleep:  # the thread sleeps idle: this request may run long
                        _wake_up()
                else:
                    key = NESTED
            else:
                key = SKIPPED
            if key is not NESTED:  # a nested call's queries are its enclosing request's
                # ``capture.context.enter``, inlined: one slot per thread or task
                slot = slot_of_context()
                if slot is None or slot[0] != owner:
                    slot = [owner, None]
                    set_slot(slot)
                holder = slot[1] = []
        except Exception as exc:
            self.report_error("starting the profiler", exc)
        now = _perf()
        return (now, key, now - started, slot, holder)

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
        start, ident, task, holder = registration
        end = _perf()
        samples = holder[0] if holder else None
        if samples is None:
            records = [([NOT_SAMPLED], end - start)]
            note = ("the request ended before the sampler's trigger "
                    f"({self.trigger * 1000:.0f} ms): nothing to show")
        else:
            records = bounded(samples.until(end), MAX_SAMPLES)
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
        cpu = None
        if samples is not None and samples.cpu is not None and isinstance(ident, int):
            now = thread_cpu(ident)  # the request's own thread, at its end (slow requests only)
            if now is not None:
                cpu = (now - samples.cpu[0], end - samples.cpu[1])
                session.cpu_time = cpu[0]
        return ProfileResult(session=session, note=note, cpu=cpu)

    # --- the sampler thread ----------------------------------------------------------

    def _start_thread(self) -> None:
        """Put this profiler on the process's sampler thread (starting it if none runs)."""
        global _thread, _generation
        with _lock:
            if self._stopped:
                return
            _watched.add(self)
            weakref.finalize(self, _wake_up)  # freed: an idle thread looks at once
            _wake_up()  # the thread may be asleep for another profiler: plan again
            if _thread is None:
                _watch_greenlets()
                _generation += 1
                _thread = start_os_thread(_sampler_thread, _generation)
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
        tick = Tick(sys._current_frames())
        runs = self._runs
        for key, entry in due:
            start, ident, task, holder = entry
            glet = None
            if isinstance(ident, tuple):  # (greenlet, OS thread id): see ``greenlets``
                glet, thread_id = ident
            else:
                thread_id = ident
            if (task.done() if task is not None else glet.dead if glet is not None
                    else thread_id not in tick.frames):
                # A cancelled request task, or a thread or greenlet gone: that request never
                # ends itself.
                if runs.get(key) is entry:
                    runs.pop(key, None)
                continue
            top = None
            first_cpu = None
            try:
                if task is not None:
                    stacks = task_stacks(task, tick, thread_id)
                elif glet is None:
                    first_cpu, idle = tick.cpu(thread_id)
                    stack, top = _thread_stack(tick.frames.get(thread_id), idle)
                    stacks = [stack] if stack else []
                else:  # a greenlet's thread runs other greenlets: its CPU is not this one's
                    stack, top = _thread_stack(_greenlet_frame(glet, thread_id), False)
                    stacks = [stack] if stack else []
            except Exception as exc:  # this request is skipped this tick; the others are not
                self.report_error("sampling one request", exc)
                continue
            if stacks and runs.get(key) is entry:  # still running
                if holder:
                    holder[0].add(stacks, now)
                else:
                    samples = _Samples(stacks, start, now, top)
                    if first_cpu is not None:
                        samples.cpu = (first_cpu, now)
                    holder.append(samples)

    def close(self) -> None:
        self._stopped = True
        _wake_up()  # an idle thread notices at once that it may have nobody left to serve


BUSY_WINDOW = 1.0  # seconds of wall-clock time over which the thread's own cost is judged


def _os_lock() -> Any:
    """A lock of the OS, even under gevent/eventlet patching: the sampler thread is a real OS
    thread (``greenlets.start_os_thread``), and a patched lock only yields between greenlets."""
    return original("_thread", "allocate_lock")()


_lock = _os_lock()
# The profilers the sampler thread serves: weak, so a profiler nobody uses is freed (and the
# thread ends when none is left). One thread per process however many monitors: each thread
# takes the GIL on every wake-up, so N monitors' threads would cost N times the switches.
_watched: weakref.WeakSet[SamplingProfiler] = weakref.WeakSet()
_thread: object | None = None  # its handle (``start_os_thread``)
_generation = 0  # which start of the thread is the current one
# Held while the thread sleeps; its timed acquire is the sleep, ``_wake_up`` ends it early.
_wake = _os_lock()
_wake.acquire()
# While no request runs anywhere the thread sleeps this long and costs nothing; it is set
# before the thread's last look at the registries, so a ``begin`` either is seen by that look
# or sees the flag and wakes the thread (a request's first sample is never late).
IDLE_SECONDS = 60.0
_asleep = False
# Once awake, the thread keeps its usual rhythm this long before it may sleep idle again: in a
# steady stream of fast requests (the registry empty at most wake-ups) a ``begin`` then wakes it
# once per ACTIVE_SECONDS, not on every request.
ACTIVE_SECONDS = 2.0


def _wake_up() -> None:
    try:
        _wake.release()
    except RuntimeError:  # not asleep, or already woken
        pass


def _sampler_thread(generation: int) -> None:
    """The sampler thread's life: wake each profiler when it is due, for as long as one is used.

    It holds a profiler only while awake. A failing tick is counted and logged once (through
    the profiler's ``report_error``) and sampling goes on; should the loop itself end by
    surprise, the profilers forget the thread, so the next request starts a new one.
    """
    global _thread, _asleep
    last_active = _perf()  # the last wake-up that found a request running (or the start)
    try:
        while True:
            with _lock:
                samplers = [s for s in _watched if not s._stopped]
                if not samplers:  # nobody left to serve; a later ``begin`` starts a new thread
                    _thread = None
                    return
            now = _perf()
            wake = now + 1.0
            idle = True
            for sampler in samplers:
                idle = idle and not sampler._runs
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
            if not idle:
                last_active = _perf()
            if idle and _perf() - last_active >= ACTIVE_SECONDS:
                _asleep = True
                if not any(watched._runs for watched in list(_watched)):
                    _wake.acquire(timeout=IDLE_SECONDS)
                _asleep = False
                last_active = _perf()
            else:
                _wake.acquire(timeout=max(wake - _perf(), 0.0005))
    finally:
        with _lock:
            if _generation == generation:
                _thread = None
                for sampler in list(_watched):
                    sampler._thread = None


_samplers: weakref.WeakSet[SamplingProfiler] = weakref.WeakSet()


def _watch_greenlets() -> None:
    """Key requests by greenlet once gevent or eventlet patched threads (see ``greenlets``).

    Checked when a sampler is made and when its thread starts (after a fork too), so an app
    that patches before it builds its monitor, or a gunicorn gevent worker that patches after
    the fork, is seen before its first request is sampled.
    """
    global _get_ident
    if _get_ident is not greenlet_ident and patched():
        use_greenlets()
        _get_ident = greenlet_ident


def _after_fork_in_child() -> None:
    global _lock, _thread, _wake
    _lock, _wake = _os_lock(), _os_lock()
    _wake.acquire()
    _thread = None
    for sampler in list(_samplers):
        sampler._thread = None
        sampler._runs.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
