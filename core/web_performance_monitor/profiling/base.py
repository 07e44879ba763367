"""The profiler interface the monitor drives: ``Profiler``, its runs, results and spans.

Adapters never touch a profiler: ``monitor.begin`` *is* the profiler's ``begin`` (one call on
the request path, not two), and the monitor calls the profiler's ``end(run, keep)`` when the
request ends, keeping the result only when it was slow. That keeps the strategy replaceable.
A run is whatever the engine finds cheapest to make per request: the sampler's is its
registration key, pyinstrument's a ``ProfileRun`` object. Each engine lives in a module of its
own beside this one (the shape of pyinstrument's ``renderers/``); ``make_profiler`` in the
package picks one.
"""

from __future__ import annotations

import base64
import hashlib
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import CodeType
from typing import Any, TypeVar

import pyinstrument.renderers.html
from pyinstrument.renderers import ConsoleRenderer
from pyinstrument.renderers.html import JSONForHTMLRenderer
from pyinstrument.session import Session

from ..capture.context import _app_file


@dataclass(frozen=True, slots=True)
class HotLine:
    """A line of the application's own code and the time the samples spent there.

    Library and standard-library frames are folded into the application frame that called
    them (pyinstrument's "hide library frames" view, by ``capture.context``'s rule of what is
    the application's): ``seconds`` is everything under that line, ``waiting`` the part spent
    blocked in a C call (sleep, socket read, a database driver) or awaiting, ``via`` the
    innermost library function it was in (``execute (sqlite3/base.py)``), "" when none.
    When no application frame was sampled, the innermost library frame stands in.
    """

    function: str
    file: str
    line: int
    seconds: float
    waiting: float
    via: str

    @property
    def where(self) -> str:
        """``catalog/views.py:27``."""
        return f"{short_path(self.file)}:{self.line}"

    @property
    def label(self) -> str:
        """``product_list (catalog/views.py:27)``, prefixed ``[waiting] in`` when mostly
        waiting."""
        name = f"{self.function} ({self.where})"
        return f"[waiting] in {name}" if self.waiting > self.seconds / 2 else name


@dataclass(slots=True)
class ProfileResult:
    """A finished profile, or the reason there is none; rendered only for alerts.

    ``cpu``: (CPU seconds the request's thread used, over how many seconds of the request),
    measured from its first sample to its end; None where it cannot be measured (async tasks
    and greenlets share their thread; not Linux, see ``handoff.thread_cpu``; the pyinstrument
    engine).
    """

    session: Session | None = None
    note: str | None = None
    cpu: tuple[float, float] | None = None
    # The script-src sources of the last ``render_html`` page: a page embedding it through
    # ``srcdoc`` passes its policy on to it, so that policy must allow these scripts too.
    script_sources: str = ""

    def render_html(self) -> str | None:
        """pyinstrument's interactive page, made safe to open (see ``_interactive_page``)."""
        if self.session is None:
            return None
        page, self.script_sources = _interactive_page(self.session)
        return page

    def render_text(self) -> str | None:
        """The call tree as text, without pyinstrument's header (its local-time clock and a
        CPU time that is not the request's: the report states both)."""
        if self.session is None:
            return None
        return str(_TreeRenderer(unicode=True, color=False, short_mode=False)
                   .render(self.session))

    def hot_lines(self, count: int = 5) -> list[HotLine]:
        """The ``count`` application lines with the most time under them (see ``HotLine``).

        Read straight from the samples (no call tree is built).
        """
        if self.session is None:
            return []
        totals: dict[tuple[str, str, int], list[Any]] = {}
        for stack, seconds in self.session.frame_records:
            found = _attribute(stack)
            if found is None or seconds <= 0:
                continue
            key, waiting, via = found
            entry = totals.setdefault(key, [0.0, 0.0, defaultdict(float)])
            entry[0] += seconds
            if waiting:
                entry[1] += seconds
            entry[2][via] += seconds
        ranked = sorted(totals.items(), key=lambda item: item[1][0], reverse=True)
        return [HotLine(function, file, line, seconds, waiting,
                        max(vias.items(), key=lambda item: item[1])[0])
                for (function, file, line), (seconds, waiting, vias) in ranked[:count]]

    def hot_frames(self, count: int = 3) -> list[tuple[str, float]]:
        """``hot_lines`` as (label, seconds): ``product_list (catalog/views.py:27)``."""
        return [(line.label, line.seconds) for line in self.hot_lines(count)]


class _TreeRenderer(ConsoleRenderer):
    def render_preamble(self, session: Session) -> str:
        return ""


def _parse(frame: str) -> tuple[str, str, int]:
    """(function, file, line) of a frame identifier: the sampled line where it was recorded
    (the ``\x01l`` attribute), else the function's first line."""
    identifier, _, attributes = frame.partition("\x01")
    function, _, rest = identifier.partition("\x00")
    filename, _, first = rest.partition("\x00")
    line = first
    for attribute in attributes.split("\x01") if attributes else ():
        if attribute[:1] == "l":
            line = attribute[1:]
    return function, filename, int(line) if line.isdigit() else 0


def _attribute(stack: list[str]) -> tuple[tuple[str, str, int], bool, str] | None:
    """Where one sample's time goes: ((function, file, line) of its innermost application
    frame, whether it was waiting, the library function it was in), or None (not sampled)."""
    if not stack:
        return None
    leaf = stack[-1]
    waiting = leaf == WAITING or leaf.startswith("[await")
    innermost: tuple[str, str, int] | None = None
    for frame in reversed(stack):
        function, filename, line = _parse(frame)
        if function.startswith("[") or filename.startswith("<"):
            continue  # a label of ours or pyinstrument's, a built-in
        if innermost is None:
            innermost = (function, filename, line)
        if is_app_file(filename):
            via = "" if innermost[1] == filename and innermost[0] == function else \
                f"{innermost[0]} ({short_path(innermost[1])})"
            return (function, filename, line), waiting, via
    if innermost is None:
        return None
    return innermost, waiting, ""


@lru_cache(maxsize=4096)
def is_app_file(filename: str) -> bool:
    """Whether code in ``filename`` is the application's own: ``capture.context``'s rule (not
    the standard library, an installed package, this monitor or its adapters)."""
    return _app_file(filename)


# pyinstrument embeds its JSON in a <script> as is: a function or file named "</script><img
# src=x onerror=...>" ended the script and ran as markup. As JSON string escapes these characters
# mean the same, and "<", ">" and "&" occur only inside strings.
SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})
# The page runs in an iframe sandboxed without allow-same-origin, where reading localStorage or
# sessionStorage throws; pyinstrument's viewer keeps its view settings there, so it gets a
# per-page store in memory instead.
_STORAGE = (
    "(function(){function store(){var d=new Map();return{getItem:function(k){"
    "return d.has(String(k))?d.get(String(k)):null},setItem:function(k,v){d.set(String(k),"
    "String(v))},removeItem:function(k){d.delete(String(k))},clear:function(){d.clear()},"
    "key:function(i){return Array.from(d.keys())[i]||null},get length(){return d.size}}}"
    "['localStorage','sessionStorage'].forEach(function(n){try{window[n].length}catch(e){"
    "Object.defineProperty(window,n,{value:store(),configurable:true})}})})();")


# The viewer's header metrics: its start time in the browser's zone (the report states one
# zone, UTC) and a CPU utilisation that is not the request's thread's (the report shows that).
_HIDDEN = ".metrics{display:none}"


@lru_cache(maxsize=1)
def _viewer() -> tuple[str, str]:
    """pyinstrument's viewer (its script and style), as its ``HTMLRenderer`` inlines them."""
    resources = Path(pyinstrument.renderers.html.__file__).parent / "html_resources"
    return ((resources / "app.js").read_text(encoding="utf-8"),
            (resources / "app.css").read_text(encoding="utf-8"))


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def _interactive_page(session: Session) -> tuple[str, str]:
    """pyinstrument's ``HTMLRenderer`` page, with its data escaped for the script it lands in
    and a Content-Security-Policy that runs only these three scripts (by hash): markup that
    still slipped in could not run anything. Also the policy's script sources."""
    js, css = _viewer()
    data = JSONForHTMLRenderer().render(session).translate(SCRIPT_SAFE)
    render = f"pyinstrumentHTMLRenderer.render(document.getElementById('app'), {data});"
    sources = " ".join(_sha256(script) for script in (_STORAGE, js, render))
    policy = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {sources}"
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            f"<style>{css}{_HIDDEN}</style></head><body><div id=\"app\"></div>"
            f"<script>{_STORAGE}</script><script>{js}</script><script>{render}</script>"
            "</body></html>"), sources


def short_path(path: str) -> str:
    """The last two parts of a file path: enough to find it, short enough for a chat line."""
    return "/".join(path.replace("\\", "/").split("/")[-2:])


class ProfileRun(ABC):
    """One started profile, as an object; ``stop`` is called once, in the same context."""

    @abstractmethod
    def stop(self, keep: bool) -> ProfileResult | None:
        """End profiling; return the result when ``keep`` (the request was slow)."""


class _NoProfile(ProfileRun):
    def __init__(self, note: str) -> None:
        self.note = note

    def stop(self, keep: bool) -> ProfileResult | None:
        return ProfileResult(note=self.note) if keep else None


FAILED = _NoProfile("the profiler could not be started")
NESTED = _NoProfile("no separate profile: this call ran inside another monitored call, "
                    "whose profile shows it")
SKIPPED = _NoProfile("not profiled: the overhead backoff profiles only some requests right now "
                     "(see max_performance_overhead)")


# --- what one profile may hold, whichever engine made it -------------------------------------
# A report is read by a person and rendered on the worker: a 3,000-deep recursion profiled
# for seconds must not make a 14 MB page or a minute of rendering.
MAX_DEPTH = 800  # frames kept per stack (a 10,000-deep recursion keeps its leaf side)
MAX_SAMPLES = 4000  # stacks per profile; beyond it samples are merged pairwise
MAX_FRAMES = 400_000  # frames in all the stacks of one profile (the report's size)


def label(text: str) -> str:
    """A frame identifier that is words, not code (pyinstrument's ``name\x00file\x00line``)."""
    return f"{text}\x00<web_performance_monitor>\x000"


TRUNCATED = label("[deep stack truncated]")
# The leaf of a sample whose innermost Python frame was inside a C call while its thread used
# no CPU (``handoff.stack``): the time is that line's, spent waiting.
WAITING = label("[waiting in a C call]")
Records = list[tuple[list[str], float]]  # pyinstrument's frame records: (stack, seconds)


def bounded(records: Records, max_samples: int = MAX_SAMPLES) -> Records:
    """``records`` within the caps: each stack cut to its leaf-side ``MAX_DEPTH`` frames, and
    neighbouring samples merged pairwise (the first one's stack, both times) until there are
    at most ``max_samples`` of them holding at most ``MAX_FRAMES`` frames. Time adds up."""
    records = [(stack if len(stack) <= MAX_DEPTH else [TRUNCATED, *stack[-MAX_DEPTH:]], seconds)
               for stack, seconds in records]
    while len(records) > 1 and (len(records) > max_samples
                                or sum(len(stack) for stack, _ in records) > MAX_FRAMES):
        merged = [(records[i][0], records[i][1] + records[i + 1][1])
                  for i in range(0, len(records) - 1, 2)]
        if len(records) % 2:
            merged.append(records[-1])
        records = merged
    return records


# Code objects of the adapter functions a request or call runs in (the WSGI middleware, the
# decorator's wrapper...). A thread's samples keep only the frames below the outermost one,
# so server frames stay out of reports; known up front, nothing is looked up per request.
request_boundaries: set[CodeType] = set()
F = TypeVar("F", bound=Callable[..., Any])


def request_boundary(func: F) -> F:
    """Mark ``func`` as where a request or call enters the application (see above)."""
    request_boundaries.add(func.__code__)
    return func


# One running request or call: (start, profile run, seconds the monitor spent starting it,
# its ``capture.context`` slot and holder of queries and calls, both None when nested or failed).
# A plain tuple: made on every request, and a tuple display costs less than any class. The run
# is the engine's own handle (``FAILED`` when the profiler could not start).
Span = tuple[float, Any, float, Any, Any]


def _unreported(where: str, exc: BaseException) -> None:
    """Until a monitor connects its error log."""


class Profiler(ABC):
    """A profiling strategy: how a request's time gets attributed to functions."""

    name: str = "base"
    # Where a failure inside ``begin`` goes (the monitor's error log): begin never raises.
    report_error: Callable[[str, BaseException], None] = staticmethod(_unreported)

    def __init__(self, interval: float) -> None:
        # Instance attributes, not class defaults: ``begin`` reads ``every`` on every request,
        # and Python 3.11 specializes that read only for an attribute of the instance.
        self.interval = interval  # seconds between samples; the overhead backoff may raise it
        self.base_interval = interval  # as configured
        self.every = 1  # profile one request in ``every`` (the overhead backoff raises it)
        self._counted = 0

    @abstractmethod
    def begin(self, takeover: bool = True) -> Span:
        """``monitor.begin``: start timing and profiling the current request or call.

        Never raises (a failure goes to ``report_error`` and the request is only timed).
        ``takeover`` is for requests: a server never runs two requests in one thread or task
        at once, so a profile still open there belongs to an abandoned request (its response
        was never closed) and is discarded. Functions (``takeover=False``) nest instead.
        """

    def end(self, run: Any, keep: bool) -> ProfileResult | None:
        """End profiling ``run`` (from ``begin``): its result when ``keep`` (it was slow).

        The monitor calls ``end`` or ``discard`` once per run, in its own thread or task.
        """
        result: ProfileResult | None = run.stop(keep)
        return result

    def discard(self, run: Any, default: None = None) -> Any:
        """``end(run, keep=False)`` for the fast path: what every request that is not slow pays.

        Shaped like ``dict.pop`` so an engine can bind a C-level one (the sampler does).
        """
        return run.stop(False)

    def _profile_this_one(self) -> bool:
        if self.every == 1:
            return True
        self._counted += 1
        return self._counted % self.every == 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop background machinery (the monitor is being reconfigured or shut down)."""
