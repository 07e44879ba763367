"""What the alert store remembers for the team's view: every alert, and what the window held back.

The store (``store``) keeps these per service and endpoint, bounded by the report retention
settings; the index page (``index``) and the ``wpm`` command (``cli``) read them. All times are
wall-clock epoch seconds (UTC when shown); durations are seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert that went out (or was written locally) for a slow request."""

    service: str
    endpoint: str  # "GET /users/{id}" (kind "request") or "CALL module.func" (a function)
    at: float  # when the slow request started
    duration: float
    status: int | None
    report: str | None  # the report's file name inside local_output_dir (never a full path)
    trace_id: str | None
    host: str
    pid: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EndpointSummary:
    """One row of the index page and of ``wpm list --endpoints``: an endpoint's history."""

    service: str
    endpoint: str
    alerts: int  # alerts kept (within retention)
    held_back: int  # slow requests the window held back, since the first kept alert
    last_duration: float  # of the most recent slow request, alerted or held back
    worst_duration: float
    last_seen: float  # when the most recent slow request started
    latest_report: str | None  # file name of the newest report
    window_until: float | None  # end of the current alert window (None: none is open)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HeldBack:
    """An endpoint's slow requests that its alert window held back (not alerted), in all.

    Kept as long as the store keeps counts (``Retention.keep_seconds`` after the last change).
    """

    service: str
    endpoint: str
    count: int
    max_duration: float  # seconds; 0.0 where only a count is known (merged after an outage)
    last_duration: float
    last_at: float  # when the most recent held-back request started (epoch seconds)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """An alert window still open: the endpoint alerted, and alerts again after ``until``."""

    service: str
    endpoint: str
    until: float  # epoch seconds
    held_back: int  # slow requests held back since the window opened (told in the next alert)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
