"""Where a waiting request's time goes: the child tasks and worker threads it waits for.

Run by the sampler thread only, and only for requests past the trigger (never on the request
path). A request task that is not running waits at the end of its ``cr_await`` chain; this
module follows that wait to the work done on the request's behalf, and each sample then shows
that work under the frame that waits for it:

- ``await task``, ``asyncio.wait_for`` (the awaited object is the child task itself);
- ``asyncio.gather`` (its future's ``_children``), ``asyncio.shield`` (the inner future, held
  by the outer one's callback), ``asyncio.wait`` and ``TaskGroup``/anyio task groups (the
  waiting coroutine's own locals: the set of tasks, the group);
- worker threads: ``loop.run_in_executor``, ``asyncio.to_thread`` and asgiref's
  ``sync_to_async`` wait on a future chained to a ``concurrent.futures.Future`` (the chaining
  callback holds it), whose thread is the one whose ``_WorkItem.run`` frame runs that future;
  anyio's ``to_thread.run_sync`` (Starlette's ``run_in_threadpool``, FastAPI ``def`` routes)
  keeps its ``WorkerThread`` in the waiting coroutine's locals.

This follows the objects themselves, not context variables, so it costs the request path
nothing and also covers ``run_in_executor``, which copies no context. Locals of a suspended
coroutine are read with ``gc.get_referents`` (no dict is made, nothing is written). The one
foreign frame whose locals are read is the standard library's ``_WorkItem.run`` in a pool
thread (its ``self``); on Python < 3.13 that snapshots its two locals into the frame's dict.

Work that cannot be followed is named in words in the sample (``[await: ...]``): queued for a
busy pool, or running in an executor whose threads this process cannot see (a process pool).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread
import dis
import functools
import gc
import sys
import threading
import time
from types import CodeType, FrameType
from typing import Any

from pyinstrument.frame import AWAIT_FRAME_IDENTIFIER

from .base import MAX_DEPTH, TRUNCATED, WAITING, is_app_file, label

MAX_BRANCHES = 16  # stacks per sample of one request (a gather of 1,000 tasks shows 16)
MAX_HOPS = 8  # task -> child task -> thread ... levels followed
QUEUED = label("[await: queued, waiting for a free worker thread]")
UNSEEN = label("[await: running in an executor whose threads cannot be sampled "
               "(another process?)]")
_WORK_ITEM_RUN = concurrent.futures.thread._WorkItem.run.__code__
_identifiers: dict[CodeType, str] = {}
# ``frame_id``'s caches, keyed by ``id`` (a code object's own hash covers its constants, at
# every lookup) and holding the code (so the id is not reused while the entry lives):
# id -> (code, identifier, whether it is the application's), and (id of an application code
# object, instruction offset) -> (that code, identifier with the line).
_frame_ids: dict[int, tuple[CodeType, str, bool]] = {}
_lined: dict[tuple[int, int], tuple[CodeType, str]] = {}
_bytecode: dict[CodeType, bytes] = {}
_CALL_OPCODES = frozenset(dis.opmap[name] for name in ("CALL", "CALL_FUNCTION_EX", "PRECALL",
                                                         "CALL_FUNCTION", "CALL_METHOD",
                                                         "CALL_FUNCTION_KW", "CALL_KW")
                          if name in dis.opmap)


def identifier(code: CodeType) -> str:
    """pyinstrument's frame identifier for ``code`` (cached: code objects are long-lived)."""
    ident = _identifiers.get(code)
    if ident is None:
        if len(_identifiers) > 100_000:
            _identifiers.clear()
        ident = f"{code.co_name}\x00{code.co_filename}\x00{code.co_firstlineno}"
        _identifiers[code] = ident
    return ident


def frame_id(frame: FrameType) -> str:
    """``identifier`` of the frame's code; for the application's own code (``is_app_file``)
    with the line it is on, as pyinstrument's ``\x01l`` attribute: the report names the
    user's line, not only the function. Cached per code object and per (code, instruction):
    ``f_lineno`` scans the code's line table, and a sample reads a whole stack."""
    code = frame.f_code
    known = _frame_ids.get(id(code))
    if known is None or known[0] is not code:
        if len(_frame_ids) > 100_000:
            _frame_ids.clear()
        known = _frame_ids[id(code)] = (code, identifier(code), is_app_file(code.co_filename))
    _, ident, app = known
    if not app:
        return ident
    key = (id(code), frame.f_lasti)
    lined = _lined.get(key)
    if lined is not None and lined[0] is code:
        return lined[1]
    text = f"{ident}\x01l{frame.f_lineno}"
    if len(_lined) > 100_000:
        _lined.clear()
    _lined[key] = (code, text)  # the code is kept: its id is not reused while this lives
    return text


def in_c_call(frame: FrameType) -> bool:
    """Whether the innermost Python frame ``frame`` is inside a call (of C code, as no Python
    frame is below it): ``time.sleep``, a socket read, a database driver's ``execute``."""
    code = frame.f_code
    raw = _bytecode.get(code)
    if raw is None:  # ``co_code`` makes a new bytes object on each read (3.11+)
        if len(_bytecode) > 10_000:
            _bytecode.clear()
        raw = _bytecode[code] = code.co_code
    return 0 <= frame.f_lasti < len(raw) and raw[frame.f_lasti] in _CALL_OPCODES


def stack(frame: FrameType | None, stop: FrameType | None, idle: bool) -> list[str]:
    """Identifiers from the outermost frame below ``stop`` down to ``frame``.

    A leaf inside a C call gets a ``WAITING`` frame under it when ``idle`` (its thread used
    no CPU meanwhile: ``Tick.cpu``).
    """
    frames: list[FrameType] = []
    leaf = frame
    while frame is not None and frame is not stop:
        frames.append(frame)
        if len(frames) >= MAX_DEPTH:
            return [TRUNCATED, *(frame_id(f) for f in reversed(frames))]
        frame = frame.f_back
    ids = [frame_id(f) for f in reversed(frames)]
    if ids and idle and leaf is not None and in_c_call(leaf):
        ids.append(WAITING)
    return ids


def thread_label(thread_id: int) -> str:
    thread = threading._active.get(thread_id)  # type: ignore[attr-defined]
    return label(f"[in thread {thread.name if thread is not None else thread_id}]")


class Tick:
    """What one sampler wake-up knows, shared by all the requests it samples.

    ``frames`` is ``sys._current_frames()``; the running task of each loop and the map of
    pool threads are looked up once per wake-up, and only when a request needs them.
    """

    __slots__ = ("_cpu", "_pool", "_running", "frames")

    def __init__(self, frames: dict[int, FrameType]) -> None:
        self.frames = frames
        self._running: dict[int, Any] = {}
        self._pool: dict[int, tuple[int, FrameType]] | None = None
        self._cpu: dict[int, tuple[float | None, bool]] = {}

    def cpu(self, thread_id: int) -> tuple[float | None, bool]:
        """(CPU seconds the thread has used, or None; whether it is blocked, so a leaf in a C
        call waits there rather than computes). Not blocked when that cannot be told.

        Judged from its CPU share over the last ``IDLE_WINDOW`` or more: under ``IDLE_SHARE``
        it was blocked, from ``BUSY_SHARE`` on it computed. In between (a loop of short sleeps
        with a little work: 10-50%), its Linux ``/proc`` state at this sample decides: asleep
        (not ``R``) is blocked, whatever the share. The state is read only then: reading a
        file lets the request's thread take the GIL back, which would delay a CPU-bound
        request's next sample by a switch interval.
        """
        seen = self._cpu.get(thread_id)
        if seen is None:
            now = time.perf_counter()
            cpu = thread_cpu(thread_id)
            idle = False
            if cpu is not None:
                before = _cpu_seen.get(thread_id)
                share = None
                if before is None or now - before[1] >= IDLE_WINDOW:
                    if before is not None:
                        share = (cpu - before[0]) / (now - before[1])
                        idle = share < IDLE_SHARE
                    if len(_cpu_seen) > 10_000:
                        _cpu_seen.clear()
                    _cpu_seen[thread_id] = (cpu, now, idle, share)
                else:  # too soon to measure the share again: the last one holds
                    idle, share = before[2], before[3]
                if share is not None and IDLE_SHARE <= share < BUSY_SHARE:
                    frame = self.frames.get(thread_id)
                    if frame is not None and in_c_call(frame):
                        state = _os_state(thread_id)
                        idle = state is not None and state != b"R"
            seen = self._cpu[thread_id] = (cpu, idle)
        return seen

    def running_task(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> Any:
        """The task running on ``loop`` (whose thread is ``thread_id``) right now."""
        if thread_id not in self._running:
            self._running[thread_id] = _current_task(loop)
        return self._running[thread_id]

    def pool_work(self) -> dict[int, tuple[int, FrameType]]:
        """id(concurrent future) -> (thread id, its ``_WorkItem.run`` frame), for busy pools."""
        if self._pool is None:
            self._pool = {}
            for thread_id, frame in self.frames.items():
                run_frame = _find_code(frame, _WORK_ITEM_RUN)
                if run_frame is not None:
                    item = run_frame.f_locals.get("self")
                    future = getattr(item, "future", None)
                    if future is not None:
                        self._pool[id(future)] = (thread_id, run_frame)
        return self._pool


_LINUX = sys.platform.startswith("linux")
# A thread that used less CPU than this share of at least IDLE_WINDOW seconds was blocked (a
# busy thread on a crowded machine still gets far more than this over that long); one that
# used BUSY_SHARE or more computed; in between, its OS state decides (``Tick.cpu``).
IDLE_SHARE = 0.1
BUSY_SHARE = 0.5
IDLE_WINDOW = 0.02
# thread id -> (its CPU seconds, perf_counter, idle verdict, CPU share or None) at the last
# judgement (sampler thread only).
_cpu_seen: dict[int, tuple[float, float, bool, float | None]] = {}


def _native_id(thread_id: int) -> int | None:
    """The OS's id of the ``threading`` thread ``thread_id`` (None if threading knows none)."""
    thread = threading._active.get(thread_id)  # type: ignore[attr-defined]
    native: int | None = getattr(thread, "native_id", None)
    return native


def _os_state(thread_id: int) -> bytes | None:
    """The thread's scheduling state, Linux ``/proc``'s letter (``R`` running or ready to run,
    ``S`` asleep, ``D`` in uninterruptible I/O...); None where it cannot be read. A thread
    starved of CPU on a crowded machine is ``R``: computing, not waiting."""
    native = _native_id(thread_id)
    if native is None:
        return None
    try:
        with open(f"/proc/self/task/{native}/stat", "rb") as stat:
            data = stat.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:][:1] or None


def thread_cpu(thread_id: int) -> float | None:
    """CPU seconds the thread ``thread_id`` (a ``threading.get_ident``) has used, or None where
    that cannot be read (not Linux, not a ``threading`` thread, or it has ended).

    Read from the kernel's CPU clock of its OS id (Linux's ``MAKE_THREAD_CPUCLOCK(tid,
    CPUCLOCK_SCHED)``, the clock ``pthread_getcpuclockid`` names there): another thread may end
    at any moment, and ``pthread_getcpuclockid`` on an ended thread's handle is undefined
    behaviour (a crash), where an ended OS id is only an error (``EINVAL``).
    """
    native = _native_id(thread_id) if _LINUX else None
    if native is None:
        return None
    try:
        return time.clock_gettime((~native << 3) | 6)
    except OSError:
        return None


_current_task = (
    asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]
    if sys.version_info < (3, 12) else asyncio.current_task)


def _find_code(frame: FrameType | None, code: CodeType) -> FrameType | None:
    """The innermost frame of ``code`` on a thread's stack (bounded walk)."""
    depth = 0
    while frame is not None and depth < 4 * MAX_DEPTH:
        if frame.f_code is code:
            return frame
        frame = frame.f_back
        depth += 1
    return None


def task_stacks(task: asyncio.Task[Any], tick: Tick, thread_id: int,
                hops: int = 0, ancestors: tuple[Any, ...] = ()) -> list[list[str]]:
    """What ``task`` is doing now: one stack, or one per piece of work it waits for.

    ``thread_id`` is the thread of the task's loop. Stacks start at the task's coroutine.
    """
    if tick.running_task(task.get_loop(), thread_id) is task:
        coro_frame = getattr(task.get_coro(), "cr_frame", None)
        return [stack(tick.frames.get(thread_id),
                      coro_frame.f_back if coro_frame is not None else None,
                      tick.cpu(thread_id)[1])]
    frames, leaf, waiting = _await_chain(task.get_coro())
    prefix = [frame_id(f) for f in frames]
    if leaf is not None and hops < MAX_HOPS:
        branches = _work_for(_future_of(leaf), waiting, tick, thread_id, hops + 1,
                             (*ancestors, task))
        if branches:
            return [prefix + branch for branch in _busiest(branches)]
    return [[*prefix, AWAIT_FRAME_IDENTIFIER]]


def _busiest(branches: list[list[str]]) -> list[list[str]]:
    """The branches that compute, if any; else all of them (each waits).

    A sample stands for the time until the next one: while one child task or thread runs
    code and its siblings wait, the time is that code's, not shared with the waits.
    """
    working = [branch for branch in branches if not branch[-1].startswith("[await")]
    return (working or branches)[:MAX_BRANCHES]


def _await_chain(awaitable: Any) -> tuple[list[FrameType], Any, Any]:
    """The coroutine chain of a suspended task: its frames, what the last one awaits, and it."""
    frames: list[FrameType] = []
    last = None
    while awaitable is not None and len(frames) < MAX_DEPTH:
        frame = (getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
                 or getattr(awaitable, "ag_frame", None))
        if frame is None:
            return frames, awaitable, last
        frames.append(frame)
        last = awaitable
        awaitable = (getattr(awaitable, "cr_await", None)
                     or getattr(awaitable, "gi_yieldfrom", None)
                     or getattr(awaitable, "ag_await", None))
    return frames, None, last


def _future_of(leaf: Any) -> Any:
    """The future behind what a coroutine awaits (``await fut`` holds a C ``FutureIter``)."""
    if asyncio.isfuture(leaf):
        return leaf
    if type(leaf).__name__ == "FutureIter":
        for referent in gc.get_referents(leaf):
            if asyncio.isfuture(referent):
                return referent
    return None


def _work_for(future: Any, waiting: Any, tick: Tick, thread_id: int, hops: int,
              ancestors: tuple[Any, ...]) -> list[list[str]]:
    """Stacks of the work ``future`` stands for (``waiting``: the coroutine awaiting it)."""
    if future is None or future in ancestors or hops > MAX_HOPS:
        return []
    if isinstance(future, asyncio.Task):
        if future.done():
            return []
        return task_stacks(future, tick, thread_id, hops, ancestors)
    branches: list[list[str]] = []
    for child in getattr(future, "_children", None) or ():  # asyncio.gather
        if not child.done():
            branches += _work_for(child, None, tick, thread_id, hops, (*ancestors, future))
            if len(branches) >= MAX_BRANCHES:
                return branches
    for held in _held_by_callbacks(future):
        if isinstance(held, concurrent.futures.Future):
            branches += _pool_stacks(held, tick)
        elif asyncio.isfuture(held) and held is not future and not held.done():
            branches += _work_for(held, None, tick, thread_id, hops + 1, (*ancestors, future))
    if not branches and waiting is not None:
        for held in _locals_of(waiting, future):
            if isinstance(held, asyncio.Task):
                if not held.done() and held not in ancestors:
                    branches += task_stacks(held, tick, thread_id, hops, ancestors)
            elif held.ident in tick.frames:
                branches += _worker_thread_stacks(held, tick)
            if len(branches) >= MAX_BRANCHES:
                break
    return branches


def _held_by_callbacks(future: Any) -> list[Any]:
    """Objects the future's done-callbacks hold in closures or ``partial`` arguments.

    That is how ``wrap_future`` (run_in_executor) keeps the concurrent future and ``shield``
    keeps the inner future. Bound methods (a task's wake-up) are not followed.
    """
    held: list[Any] = []
    for callback, _context in getattr(future, "_callbacks", None) or ():
        if isinstance(callback, functools.partial):
            held.extend(callback.args)
        for cell in getattr(callback, "__closure__", None) or ():
            try:
                held.append(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
    return held


def _locals_of(coroutine: Any, future: Any) -> list[Any]:
    """Child tasks and worker threads a suspended coroutine holds in its locals.

    Read with ``gc.get_referents`` (never from a running coroutine). A task counts when its
    completion wakes ``future`` (``asyncio.wait``'s set, ``wait_for``'s task before 3.12),
    or when it belongs to the task group being exited (``TaskGroup.__aexit__``'s group); a
    thread is anyio's ``WorkerThread`` in ``run_sync_in_worker_thread``. Other tasks in the
    locals (anyio's root task, a shared background task) are not this request's work.
    """
    found: list[Any] = []
    groups = _task_group_types()
    for held in gc.get_referents(coroutine):
        if isinstance(held, threading.Thread):
            found.append(held)
        elif isinstance(held, asyncio.Task):
            if _wakes(held, future):
                found.append(held)
        elif isinstance(held, (set, frozenset, list, tuple)) and len(held) <= 4 * MAX_BRANCHES:
            found.extend(item for item in held
                         if isinstance(item, asyncio.Task) and _wakes(item, future))
        elif groups and isinstance(held, groups):
            found.extend(getattr(held, "_tasks", ()))
    return found


def _wakes(task: asyncio.Task[Any], future: Any) -> bool:
    """Whether ``task``'s completion callbacks hold ``future`` (they wake whoever waits)."""
    return any(held is future for held in _held_by_callbacks(task))


def _task_group_types() -> tuple[type, ...]:
    """asyncio's ``TaskGroup`` (3.11+) and anyio's asyncio task group, where loaded."""
    types: list[type] = []
    group = getattr(asyncio, "TaskGroup", None)
    if group is not None:
        types.append(group)
    anyio_backend = sys.modules.get("anyio._backends._asyncio")
    if anyio_backend is not None and isinstance(getattr(anyio_backend, "TaskGroup", None), type):
        types.append(anyio_backend.TaskGroup)
    return tuple(types)


def _pool_stacks(work: concurrent.futures.Future[Any], tick: Tick) -> list[list[str]]:
    """The pool thread running ``work``: its frames below ``_WorkItem.run``; else why not."""
    found = tick.pool_work().get(id(work))
    if found is None:
        if work.done():
            return []
        return [[UNSEEN if work.running() else QUEUED]]
    thread_id, run_frame = found
    return [[thread_label(thread_id),
             *stack(tick.frames.get(thread_id), run_frame, tick.cpu(thread_id)[1])]]


def _worker_thread_stacks(thread: threading.Thread, tick: Tick) -> list[list[str]]:
    """A worker thread's frames below its ``run`` method (anyio's ``WorkerThread``)."""
    ident = thread.ident
    if ident is None:
        return []
    run = getattr(type(thread).run, "__code__", None)
    frame = tick.frames.get(ident)
    top = _find_code(frame, run) if run is not None else None
    if top is None:
        return []
    return [[thread_label(ident), *stack(frame, top, tick.cpu(ident)[1])]]
