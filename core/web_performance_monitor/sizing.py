"""Memory estimates and budgets for what waits in queues; a slow event's profile is most of it.

Counting queued items was not enough: 255 queued events with 300-deep stacks took 422 MB, and
4,000 samples x 800 frames could take several GB. The sampler keeps one identifier string per
code object and shares it between samples, so a profile costs about one record (a tuple, a list
and a float) per sample plus one pointer per frame; the strings are not counted.
"""

from __future__ import annotations

import sys

from .events import Alert, SlowEvent
from .profiling import ProfileResult

_RECORD = sys.getsizeof((None, None)) + sys.getsizeof([]) + sys.getsizeof(0.0)
_POINTER = 8
_EVENT = 1024  # the event object, its strings and the request's small fields


def _records_bytes(records: list[tuple[list[str], float]]) -> int:
    return len(records) * _RECORD + _POINTER * sum(len(stack) for stack, _ in records)


def profile_bytes(profile: ProfileResult | None) -> int:
    """About how many bytes ``profile``'s samples hold (0 without samples)."""
    if profile is None or profile.session is None:
        return 0
    return _records_bytes(profile.session.frame_records)


def event_bytes(event: SlowEvent) -> int:
    """About how many bytes ``event`` holds: its profile and the request data it captured."""
    size = _EVENT + profile_bytes(event.profile)
    record = event.record
    if record is not None:
        size += len(record.body or b"") + len(record.query_string) + len(record.path)
        size += sum(len(name) + len(value) + 2 * _POINTER for name, value in record.headers)
    return size


def alert_bytes(alert: Alert) -> int:
    """About how many bytes ``alert`` holds: its event and the rendered report and message."""
    return event_bytes(alert.event) + len(alert.html) + len(alert.message)


def shrink_profile(profile: ProfileResult | None, budget: int) -> None:
    """Merge adjacent samples pairwise until ``profile`` fits ``budget`` bytes, with a note.

    Time is kept (a merged sample stands for both), resolution halves with each pass; the
    first record (the time before sampling started) is never merged.
    """
    if profile is None or profile.session is None or profile_bytes(profile) <= budget:
        return
    session = profile.session
    before = len(session.frame_records)
    records = session.frame_records
    while len(records) > 2 and _records_bytes(records) > budget:
        head, body = records[0], records[1:]
        merged = [head]
        for i in range(0, len(body) - 1, 2):
            merged.append((body[i][0], body[i][1] + body[i + 1][1]))
        if len(body) % 2:
            merged.append(body[-1])
        records = merged
        session.max_interval *= 2
    session.frame_records = records
    session.sample_count = len(records)
    note = (f"{before:,} samples merged into {len(records):,} to fit max_profile_bytes "
            f"({budget:,} bytes)")
    profile.note = f"{profile.note}; {note}" if profile.note else note
