"""Outgoing HTTP calls are captured while at least one monitor wants them.

Each ``PerformanceMonitor`` says ``capture_calls(self, config.capture_http_calls)`` when it is
configured and ``capture_calls(self, False)`` on ``close(final=True)`` (also run at interpreter
exit); a monitor that is garbage-collected unclosed counts as gone. The hooks of
``http.client`` (so ``urllib3`` and ``requests``), ``httpx`` and ``aiohttp`` are installed
with the first such monitor and undone with the last. A library that is installed but not yet
imported is imported then (once per process), so an application importing it later is seen
too; one that is not installed is skipped.
"""

from __future__ import annotations

import threading
import weakref
from importlib.util import find_spec

from .http_patch import Patch, errors

__all__ = ["capture_calls", "installed"]

_lock = threading.RLock()  # re-entrant: a finalizer may run during a collection under it
_owners: dict[int, weakref.finalize[[int], object]] = {}  # id(monitor) -> its finalizer
_patches: list[Patch] | None = None  # made at the first install


def capture_calls(owner: object, on: bool) -> None:
    """Count ``owner`` among the monitors that want calls captured (``on``) or not; install or
    undo the hooks as the count leaves or reaches zero. Failures are logged, never raised."""
    with _lock:
        key = id(owner)
        if on and key not in _owners:
            _owners[key] = weakref.finalize(owner, _forget, key)
        elif not on and key in _owners:
            _owners.pop(key).detach()
        _settle()


def installed() -> list[Patch]:
    """The hooks applied now (an empty list when no monitor captures calls)."""
    with _lock:
        return [patch for patch in _patches or () if patch.wrapper is not None]


def _forget(key: int) -> None:
    with _lock:
        _owners.pop(key, None)
        _settle()


def _settle() -> None:
    global _patches
    if _patches is None:
        if not _owners:
            return
        _patches = _load()
    for patch in _patches:
        with errors.guard(f"{'installing' if _owners else 'removing'} {patch!r}"):
            if _owners:
                patch.apply()
            elif not patch.undo():
                errors.report(f"removing {patch!r}",
                              RuntimeError("another patch was installed over it; left in place"))


def _load() -> list[Patch]:
    from . import http_stdlib

    patches = http_stdlib.patches()
    if find_spec("httpx") is not None:
        with errors.guard("hooking httpx"):
            from . import http_httpx

            patches += http_httpx.patches()
    if find_spec("aiohttp") is not None:
        with errors.guard("hooking aiohttp"):
            from . import http_aiohttp

            patches += http_aiohttp.patches()
    return patches
