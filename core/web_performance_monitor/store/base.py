"""What every alert store offers (``AlertStore``), an endpoint's identity in it (``Key``), how
long it keeps things (``Retention``), and the helpers of the stores that keep records in Python.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..history import AlertRecord, EndpointSummary, HeldBack, OpenWindow

if TYPE_CHECKING:
    from ..config import Config

DAY = 86400.0
Key = tuple[str, str]  # (service, endpoint): an endpoint's identity in the store


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a store keeps what it knows.

    ``keep_seconds``: windows' suppressed and held-back counts, after their last change.
    ``history_days`` / ``history_count``: alert records older than that, or beyond the newest
    ``history_count`` of all endpoints together, are deleted (0 = no such limit): the same
    rule as the report files (``report_retention_days`` / ``report_retention_count``).
    """

    keep_seconds: float = 30 * DAY
    history_days: float = 30.0
    history_count: int = 500

    @classmethod
    def from_config(cls, config: Config) -> Retention:
        """Counts are kept as long as the longer of the alert window and the report retention
        (at least a day); alert records as long as the reports."""
        keep = max(config.alert_window_days, config.report_retention_days, 1.0) * DAY
        return cls(keep, config.report_retention_days, config.report_retention_count)

    def oldest(self, now: float) -> float:
        """The start time of the oldest alert record to keep at ``now`` (0.0: no age limit)."""
        return now - self.history_days * DAY if self.history_days else 0.0


DEFAULT_RETENTION = Retention()  # what Config's defaults give


@dataclass(frozen=True, slots=True)
class Claim:
    endpoint: str
    token: str
    suppressed_before: int  # slow requests not alerted since the previous alert
    service: str = ""


class AlertStore(ABC):
    """Where alert windows and history live. Implementations must make ``claim`` atomic.

    ``service`` and ``endpoint`` filters of the read methods: None = all.
    """

    @abstractmethod
    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        """Take the window for ``(service, endpoint)`` if it is free; None when already taken."""

    @abstractmethod
    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        """Count ``count`` slow requests that were not alerted (the window was taken).

        ``duration`` (seconds) and ``at`` (start, epoch seconds; default now) of the latest of
        them, for the held-back figures (``held``).
        """

    @abstractmethod
    def release(self, claim: Claim) -> None:
        """Give the window back (all notifiers failed); keeps the suppressed count."""

    @abstractmethod
    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        """Take in what was decided elsewhere (by the fallback, during an outage).

        ``windows``: key -> (end of the window, epoch seconds; the claim's token), so a
        ``release`` of such a claim still works here. A window already taken here is kept (that
        alert went out too); suppressed counts add up; ``records`` are added to the history.
        """

    @abstractmethod
    def record(self, alert: AlertRecord) -> None:
        """Remember an alert that went out; the oldest beyond the retention are dropped."""

    @abstractmethod
    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        """Alerts kept, newest first; ``since``: started at or after (epoch seconds);
        ``limit`` None = all."""

    @abstractmethod
    def held(self, service: str | None = None) -> list[HeldBack]:
        """Per endpoint, the slow requests its windows held back (endpoints with none left out)."""

    @abstractmethod
    def windows(self, service: str | None = None) -> list[OpenWindow]:
        """The windows open now, the soonest to end first."""

    @abstractmethod
    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        """End the matching open windows now (their next slow request alerts); how many.

        The held-back counts stay: the next alert tells them.
        """

    @abstractmethod
    def prune(self, now: float | None = None) -> int:
        """Apply the retention now (it also runs on its own); how many alert records went."""

    def endpoints(self, service: str | None = None) -> list[EndpointSummary]:
        """One summary per endpoint with alerts or held-back requests, last seen first."""
        records: dict[Key, list[AlertRecord]] = {}
        for record in self.history(service, limit=None):  # newest first
            records.setdefault((record.service, record.endpoint), []).append(record)
        held = {(h.service, h.endpoint): h for h in self.held(service)}
        until = {(w.service, w.endpoint): w.until for w in self.windows(service)}
        summaries = []
        for key in records.keys() | held.keys():
            alerts = records.get(key, [])
            back = held.get(key)
            latest = alerts[0] if alerts else None
            recent_held = back is not None and (latest is None or back.last_at > latest.at)
            summaries.append(EndpointSummary(
                service=key[0], endpoint=key[1], alerts=len(alerts),
                held_back=back.count if back else 0,
                last_duration=back.last_duration if recent_held and back else (
                    latest.duration if latest else 0.0),
                worst_duration=max([a.duration for a in alerts]
                                   + [back.max_duration if back else 0.0]),
                last_seen=max([latest.at if latest else 0.0, back.last_at if back else 0.0]),
                latest_report=next((a.report for a in alerts if a.report), None),
                window_until=until.get(key)))
        summaries.sort(key=lambda s: (-s.last_seen, s.service, s.endpoint))
        return summaries

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free connections; the store may be used again afterwards (it reconnects)."""


def new_token() -> str:
    return uuid.uuid4().hex


def matches(key: Key, service: str | None, endpoint: str | None = None) -> bool:
    return (service is None or key[0] == service) and (endpoint is None or key[1] == endpoint)


def select(records: Iterable[AlertRecord], service: str | None, endpoint: str | None,
            since: float | None, limit: int | None) -> list[AlertRecord]:
    """``history`` over records in memory: filtered, newest first, at most ``limit``."""
    chosen = [r for r in records if matches((r.service, r.endpoint), service, endpoint)
              and (since is None or r.at >= since)]
    chosen.sort(key=lambda r: r.at, reverse=True)
    return chosen if limit is None else chosen[:limit]


def bounded(records: list[AlertRecord], retention: Retention, now: float) -> list[AlertRecord]:
    """The records the retention keeps at ``now``, newest first."""
    oldest = retention.oldest(now)
    kept = sorted((r for r in records if r.at >= oldest), key=lambda r: r.at, reverse=True)
    return kept[:retention.history_count] if retention.history_count else kept
