"""Outgoing HTTP calls are captured while at least one monitor wants them.

Each ``PerformanceMonitor`` says ``capture_calls(self, its error log)`` when it is configured
with ``capture_http_calls`` (``capture_calls(self, None)`` without it, and on
``close(final=True)``, which also runs at interpreter exit); a monitor garbage-collected
unclosed counts as gone. The hooks of ``http.client`` (so ``urllib3`` and ``requests``),
``httpx`` and ``aiohttp`` are installed with the first such monitor and undone with the last.
A library that is installed but not yet imported is imported then (once per process), so an
application importing it later is seen too; one that is not installed is skipped.
"""

from __future__ import annotations

import importlib
import sys
import threading
import weakref

from ..log import ErrorLog
from .http_patch import Patch, error_logs, report

__all__ = ["capture_calls"]

# library -> the module of this package that hooks it
HOOKS = {"http.client": "http_stdlib", "httpx": "http_httpx", "aiohttp": "http_aiohttp"}

_lock = threading.RLock()  # re-entrant: a finalizer may run during a collection under it
# id(monitor) -> (its finalizer, its error log), for each monitor that captures calls
_owners: dict[int, tuple[weakref.finalize[[int], object], ErrorLog]] = {}
# library -> its patches, loaded once the application has imported the library: importing
# aiohttp or httpx for an app that never uses them would cost every worker their memory (and
# every request the garbage collector's walk over it). ``refresh`` hooks those imported later.
_patches: dict[str, list[Patch]] = {}


def capture_calls(owner: object, errors: ErrorLog | None) -> None:
    """Count ``owner`` among the monitors that capture calls (``errors``: where it logs the
    hooks' failures) or take it out (None); install or undo the hooks as the count leaves or
    reaches zero. Failures are logged, never raised."""
    with _lock:
        key = id(owner)
        known = _owners.pop(key, None)
        if errors is not None:
            _owners[key] = (known[0] if known else weakref.finalize(owner, _forget, key), errors)
        elif known is not None:
            known[0].detach()
        _settle()


def _forget(key: int) -> None:
    with _lock:
        _owners.pop(key, None)
        _settle()


def _settle() -> None:
    error_logs[:] = [errors for _, errors in _owners.values()]
    if _owners:
        _load_imported()
    for patches in _patches.values():
        for patch in patches:
            try:
                if _owners:
                    patch.apply()
                elif not patch.undo():
                    report(f"removing {patch!r}",
                           RuntimeError("another patch was installed over it; left in place"))
            except Exception as exc:
                report(f"{'installing' if _owners else 'removing'} {patch!r}", exc)


def refresh() -> None:
    """Hook the libraries the application imported since the hooks were installed (the monitor
    asks every ``CHECK_EVERY`` requests: a dict lookup per library when nothing is new)."""
    if _owners and any(library not in _patches and library in sys.modules
                       for library in HOOKS):
        with _lock:
            _settle()


def _load_imported() -> None:
    for library, module in HOOKS.items():
        if library in _patches or library not in sys.modules:
            continue
        try:
            _patches[library] = importlib.import_module(f".{module}", __package__).patches()
        except Exception as exc:  # a version whose names moved: the others still work
            _patches[library] = []
            report(f"hooking {library}", exc)
