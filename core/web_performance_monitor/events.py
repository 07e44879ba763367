"""What the request path hands to the background worker, and what the worker sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .capture import Captured
from .profiling import ProfileResult
from .request import RequestRecord
from .stats import Kind


@dataclass(slots=True)
class SlowDetails:
    """What an adapter tells about a request or call once it is known to be slow.

    Fast requests never build one: the request path passes only the endpoint, and a
    ``describe(monitor, subject)`` callable that the monitor calls for slow ones.
    """

    path: str
    route: str | None = None
    status: int | None = None
    record: RequestRecord | None = None
    call: dict[str, Any] | None = None  # for functions: qualname and masked arguments
    # The exception a handler raised that the framework turned into an error response (the
    # adapter's middleware never saw it raised): noted by the framework's failure hook.
    error: BaseException | None = None


@dataclass(slots=True)
class SlowEvent:
    """One slow request or call, as captured on the request path (raw, not yet masked)."""

    kind: Kind
    endpoint: str
    duration: float
    threshold: float
    started_at: float  # wall-clock seconds
    pid: int
    thread: str
    status: int | None = None
    error: str | None = None  # the exception type that propagated, if any
    record: RequestRecord | None = None
    call: dict[str, Any] | None = None  # for functions: qualname, module, masked arguments
    profile: ProfileResult | None = None
    # Its SQL queries and outgoing HTTP calls (``capture``), None when it made none.
    captured: Captured | None = None
    origin: float = 0.0  # perf_counter at its start: captured times are relative to this
    service: str = ""  # ``Config.service_name`` or the adapter's default
    framework: str = ""  # what served it, e.g. "Flask 3.1.3" (the adapter tells the monitor)
    # Later slow requests of the same endpoint, folded into this event while it waited in the
    # alert queue: they would be suppressed anyway, and must not take new endpoints' places.
    repeats: int = 0


@dataclass(slots=True)
class Alert:
    """A rendered alert: everything a notifier needs, already masked and escaped."""

    event: SlowEvent
    suppressed_before: int
    title: str
    message: str  # short Markdown summary for chat notifiers
    html: str
    filename: str
    trace: dict[str, str] = field(default_factory=dict)
    # The request as the report shows it (``request.describe_request``: masked, size-bounded).
    request: dict[str, Any] | None = None
    hot_frames: list[tuple[str, float]] = field(default_factory=list)
    # Why it was slow in one sentence (``diagnosis``; plain text, statements in backticks).
    headline: str = ""
    # The report's machine-readable facts (its ``wpm-event`` JSON; docs/report-json.md).
    facts: dict[str, Any] = field(default_factory=dict)
    report_path: str | None = None  # set by the local file notifier
