"""The queries and outgoing calls of the monitored request or call running now.

Each thread or asyncio task has a slot, ``[owner, holder]``, in the ``ContextVar`` ``CURRENT``:
``owner`` is the thread id or task whose requests fill it, ``holder`` the running request's
list (``[]`` until its first record, then ``[Captured]``), None between requests. The
profiler's ``begin`` puts a fresh holder in the slot of its thread or task for each request or
call that is not nested in another one, and the monitor's ``finish`` empties it. The slot is
set once per thread (a thread's context lives as long as the thread) and once per request task
(a task's context is its own): a request pays no ``ContextVar.set`` and ``reset`` of its own,
which copy the context's mapping and cost ~3,000 instructions where a framework keeps many
context variables (Django, Sanic).

The ``ContextVar`` follows the work where the work goes: into child tasks, ``asyncio.to_thread``,
Django's ``sync_to_async`` and ``contextvars.copy_context().run`` (they copy the context, and
with it the slot), so a query run from a thread pool on behalf of a request is that request's
query; a monitored call started there gets a slot of its own (another owner).

A hook (Django's execute wrapper, SQLAlchemy's cursor events, the HTTP clients' hooks) calls
``current()``: None outside a monitored request or call (the hook does nothing more), else the
request's ``Captured``, made at its first query.

Records hold raw values (statement, URL, parameters when asked for): normalising, masking and
rendering happen on the background worker, for slow requests only.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any

# The slot of the thread or task running now: [owner, holder] (see above), None before its
# first monitored request or call.
CURRENT: ContextVar[list[Any] | None] = ContextVar("wpm_capture_slot", default=None)
slot_of_context = CURRENT.get
set_slot = CURRENT.set

# (file, function, line) of the application's own code that issued a query or call.
Site = tuple[str, str, int]


@dataclass(slots=True)
class Query:
    """One SQL statement as the driver ran it.

    ``statement`` is the raw SQL (literals and all: normalised to ``?`` on the worker, never
    shown raw); ``parameters`` is None unless ``capture_sql_parameters`` is on. Times are
    ``time.perf_counter`` seconds: ``start`` absolute, ``duration`` relative.
    """

    statement: str
    start: float
    duration: float
    database: str  # Django's alias, or SQLAlchemy's engine name (driver://host/db, no password)
    vendor: str  # "sqlite", "postgresql", ...
    site: Site | None
    rows: int | None = None  # executemany: the number of parameter sets
    parameters: Any = None
    error: str | None = None  # the exception type the driver raised, if it did


@dataclass(slots=True)
class Call:
    """One outgoing HTTP call (``url`` raw: its query values are masked on the worker)."""

    method: str
    url: str
    start: float
    duration: float
    library: str  # "requests", "httpx", "aiohttp", "http.client", ...
    site: Site | None
    status: int | None = None
    error: str | None = None


@dataclass(slots=True)
class Captured:
    """What one request or call did, bounded by ``limit`` records of each kind.

    Beyond the limit records are counted (number and seconds) and not kept: a request issuing
    a million queries keeps a bounded report and bounded memory.
    """

    limit: int = 1000
    queries: list[Query] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    queries_dropped: int = 0
    queries_dropped_seconds: float = 0.0
    calls_dropped: int = 0
    calls_dropped_seconds: float = 0.0

    def add_query(self, query: Query) -> None:
        if len(self.queries) < self.limit:
            self.queries.append(query)
        else:
            self.queries_dropped += 1
            self.queries_dropped_seconds += query.duration

    def add_call(self, call: Call) -> None:
        if len(self.calls) < self.limit:
            self.calls.append(call)
        else:
            self.calls_dropped += 1
            self.calls_dropped_seconds += call.duration


# Set by the monitor from ``max_queries_per_request`` (one process-wide value: the last
# monitor configured wins, which is what one app with one monitor means).
limits = {"max_records": 1000}


def current() -> Captured | None:
    """The running request's ``Captured`` (made now if this is its first record), or None."""
    slot = slot_of_context()
    if slot is None:
        return None
    holder: list[Captured] | None = slot[1]
    if holder is None:
        return None
    if not holder:  # two threads may both append: each then records into the first one
        holder.append(Captured(limits["max_records"]))
    return holder[0]


def monitored() -> list[Captured] | None:
    """The running request's holder, None outside monitored requests and calls: a hook's
    first question, a ``ContextVar.get`` and an item read."""
    slot = slot_of_context()
    holder: list[Captured] | None = None if slot is None else slot[1]
    return holder


def enter(owner: Any) -> tuple[list[Any], list[Captured]]:
    """A fresh holder for the request or call starting now in ``owner`` (its thread id or
    asyncio task): ``(slot, holder)`` for ``leave``. (The sampler inlines this in ``begin``.)"""
    slot = slot_of_context()
    if slot is None or slot[0] != owner:
        slot = [owner, None]
        set_slot(slot)
    holder: list[Captured] = []
    slot[1] = holder
    return slot, holder


def leave(slot: list[Any] | None, holder: list[Captured] | None) -> Captured | None:
    """``finish``: what the request captured (None if nothing); its slot is emptied unless a
    newer request of the same thread or task already holds it (an abandoned response closed
    late). Works from any context: the slot is the object itself, not a context's value."""
    if slot is None or holder is None:
        return None
    if slot[1] is holder:
        slot[1] = None
    return holder[0] if holder else None


# --- the application's own line ---------------------------------------------------------------

def _package_dirs() -> list[str]:
    """This monitor's folder and its adapters' (``flask_wpm``, ``django_wpm``, ``sanic_wpm``,
    found without importing them): their frames are never the application's line."""
    dirs = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    for name in ("flask_wpm", "django_wpm", "sanic_wpm"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            dirs.append(os.path.dirname(os.path.abspath(spec.origin)))
    return dirs


_library_roots = tuple(sorted({
    os.path.abspath(path) + os.sep
    for path in (*(sysconfig.get_paths().get(name) for name in ("stdlib", "platstdlib",
                                                                "purelib", "platlib")),
                 sys.prefix, sys.base_prefix, sys.exec_prefix, *_package_dirs())
    if path
}))
# File name -> whether it is the application's. Keyed by the name, not the code object: a
# string caches its hash, a code object hashes its constants at every lookup.
_is_app: dict[str, bool] = {}


def _app_file(filename: str) -> bool:
    """Whether code in ``filename`` is the application's own: not the standard library, not
    an installed package, not this monitor or its adapters. (pyinstrument's "library code"
    rule, by file location.)"""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.abspath(filename)
    return not path.startswith(_library_roots) and "site-packages" not in path \
        and "dist-packages" not in path


def _greenlet_parent_frame() -> FrameType | None:
    """Where the parent greenlet of the running one waits, if greenlet is in use.

    SQLAlchemy's asyncio layer runs a statement's synchronous part in a child greenlet whose
    stack ends at its own start: the application's coroutine that awaited it is on the
    parent's stack (``greenlet_spawn`` and the coroutines awaiting it).
    """
    module = sys.modules.get("greenlet")
    if module is None:
        return None
    parent = module.getcurrent().parent
    frame: FrameType | None = parent.gr_frame if parent is not None else None
    return frame


# (id of a code object, its instruction offset) -> (the code object, its site). The code
# object is kept, so its id is never reused while the entry lives, and compared, so a hit is
# that code. Computing ``f_lineno`` scans the code's line table from its start (CPython 3.11:
# 0.1-1 µs, more in long functions); a call site issuing a thousand queries computes it once,
# and its queries share one tuple. Cleared when full (call sites of dynamically made code).
_sites: dict[tuple[int, int], tuple[CodeType, Site]] = {}
MAX_SITES = 50_000


def _site(frame: FrameType) -> Site:
    code = frame.f_code
    key = (id(code), frame.f_lasti)
    entry = _sites.get(key)
    if entry is not None and entry[0] is code:
        return entry[1]
    # co_qualname is 3.11+; on 3.10 the plain name (pyproject: requires-python >= 3.10)
    site = (code.co_filename, getattr(code, "co_qualname", code.co_name), frame.f_lineno)
    if len(_sites) >= MAX_SITES:
        _sites.clear()
    _sites[key] = (code, site)
    return site


def app_site(frame: FrameType | None) -> Site | None:
    """The innermost frame of the application's own code from ``frame`` outwards, or None.

    Each file is classified once and each call site's line computed once (a dict lookup per
    frame after that). When the thread's stack has none, the parent greenlet's stack is
    searched (``_greenlet_parent_frame``).
    """
    cache = _is_app
    parent_searched = False
    while True:
        while frame is not None:
            filename = frame.f_code.co_filename
            app = cache.get(filename)
            if app is None:
                app = cache[filename] = _app_file(filename)
            if app:
                return _site(frame)
            frame = frame.f_back
        if parent_searched:
            return None
        parent_searched = True
        frame = _greenlet_parent_frame()
