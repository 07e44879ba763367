"""Requests served by greenlets (gevent or eventlet monkey-patched servers: ``gevent.pywsgi``,
gunicorn ``-k gevent``/``-k eventlet``).

Under monkey-patching, ``threading.get_ident`` names a greenlet, not a thread that
``sys._current_frames()`` knows, and many greenlets share one OS thread. So once patching is
seen, the sampler keys a request by ``(greenlet, OS thread id)``: a greenlet that is not running
is sampled from its own ``gr_frame``, the running one from its OS thread's frames. The sampler
thread itself must then be a real OS thread that sleeps for real (a patched ``Thread`` is a
greenlet, which would only run when the request it should sample yields).

Nothing here runs per request while no patching is seen; with patching, ``begin`` calls
``greenlet_ident`` instead of ``threading.get_ident``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any


def patched() -> bool:
    """Whether gevent or eventlet has monkey-patched threads in this process."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return True
    patcher = sys.modules.get("eventlet.patcher")
    return bool(patcher is not None and patcher.is_monkey_patched("thread"))


def original(module: str, name: str) -> Any:
    """The unpatched ``module.name`` (the patched one when nothing is patched)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched(module):
        return monkey.get_original(module, name)
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None:
        return getattr(patcher.original(module), name)
    return getattr(sys.modules[module], name)


def greenlet_ident() -> tuple[Any, int]:
    """The request's key under greenlets: the running greenlet and its real OS thread id."""
    return _getcurrent(), _real_get_ident()


def use_greenlets() -> None:
    """Bind ``greenlet_ident``'s two sources (called once patching is seen)."""
    global _getcurrent, _real_get_ident
    import greenlet

    _getcurrent = greenlet.getcurrent
    _real_get_ident = original("_thread", "get_ident")


_getcurrent: Callable[[], Any] = threading.current_thread
_real_get_ident: Callable[[], int] = threading.get_ident


def start_os_thread(target: Callable[..., None], *args: Any) -> object:
    """Start ``target(*args)`` in a real OS thread, even under monkey-patching: its handle
    (a ``threading.Thread`` named ``wpm-sampler``, or the raw thread's id when patched)."""
    if patched():
        ident: int = original("_thread", "start_new_thread")(target, args)
        return ident
    thread = threading.Thread(target=target, args=args, name="wpm-sampler", daemon=True)
    thread.start()
    return thread

