"""The pieces every outgoing-HTTP hook shares: a restorable patch, and the pending call.

A hook's first step outside a monitored request is one ``ContextVar.get`` (``monitored()``),
then the library's own function, nothing else. Inside one it calls ``start`` when the request
leaves and ``Pending.finish`` when the answer's headers arrived or the library raised. Both
are guarded: a failure of the monitor is logged and counted (``report``) and the call goes on as
if no monitor were there; what the library returns or raises reaches the application unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from ..log import ErrorLog
from .context import Call, Captured, Site, app_site, current, monitored

__all__ = ["WHAT", "Patch", "Pending", "error_logs", "monitored", "report", "start"]

WHAT = "capturing an outgoing HTTP call"
# The hooks are the process's, not one monitor's: their failures go to the error log of each
# monitor capturing calls now (``http_calls`` keeps this list), so they are logged once per
# kind and counted in its ``get_stats()["internal_errors"]``; with none, to ``_unowned``.
error_logs: list[ErrorLog] = []
_unowned = ErrorLog()
_perf = time.perf_counter

# ``describe(*args) -> (method, url, library)``, called only inside a monitored request.
Describe = Callable[..., tuple[str, str, str]]


def report(what: str, exc: BaseException) -> None:
    """A failure of the monitor in a hook (or in installing one): logged and counted."""
    for log in error_logs or (_unowned,):
        log.report(what, exc)


class Pending:
    """One call on its way: who made it, where from, since when (``perf_counter`` seconds)."""

    __slots__ = ("captured", "library", "method", "site", "start", "status_attr", "url")

    def __init__(self, captured: Captured, method: str, url: str, library: str,
                 site: Site | None, status_attr: str) -> None:
        self.captured, self.method, self.url, self.library = captured, method, url, library
        self.site, self.status_attr = site, status_attr
        self.start = _perf()  # last: finding the site is the monitor's time, not the call's

    def finish(self, response: Any, error: BaseException | None) -> None:
        """Record the call: ``response``'s status (its ``status_attr``), or ``error``'s type.

        Never raises.
        """
        end = _perf()
        try:
            status = None if response is None else int(getattr(response, self.status_attr))
            self.captured.add_call(Call(
                self.method, self.url, self.start, end - self.start, self.library, self.site,
                status, None if error is None else type(error).__qualname__))
        except Exception as exc:
            report(WHAT, exc)


def start(frame: FrameType | None, status_attr: str, describe: Describe,
          *args: Any) -> Pending | None:
    """The call that ``describe(*args)`` names, made from ``frame``, starting now; None outside
    a monitored request or when the monitor fails (logged). Never raises."""
    try:
        captured = current()
        if captured is None:
            return None
        method, url, library = describe(*args)
        return Pending(captured, method, url, library, app_site(frame), status_attr)
    except Exception as exc:
        report(WHAT, exc)
        return None


class Patch:
    """``owner.name`` replaced by ``wrap(original)`` while applied; ``undo`` puts it back.

    ``wrap`` returns a ``functools.wraps`` wrapper (same name, docstring, ``__wrapped__`` and
    so ``inspect.signature``). When something replaced the attribute on top of ours since
    (another tool's patch), ``undo`` leaves the chain alone, since taking ours out would take theirs
    too, and returns False; the patch then stays applied and is not applied twice.
    """

    def __init__(self, owner: type, name: str, wrap: Callable[[Any], Any]) -> None:
        self.owner, self.name, self.wrap = owner, name, wrap
        self.original: Any = None
        self.wrapper: Any = None

    def apply(self) -> None:
        if self.wrapper is not None:
            return
        original = vars(self.owner)[self.name]
        wrapper = self.wrap(original)
        setattr(self.owner, self.name, wrapper)
        self.original, self.wrapper = original, wrapper

    def undo(self) -> bool:
        """Put the original back; False when another patch sits on top of ours."""
        if self.wrapper is None:
            return True
        if vars(self.owner).get(self.name) is not self.wrapper:
            return False
        setattr(self.owner, self.name, self.original)
        self.original = self.wrapper = None
        return True

    def __repr__(self) -> str:
        return f"<Patch {self.owner.__module__}.{self.owner.__qualname__}.{self.name}>"
