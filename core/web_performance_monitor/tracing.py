"""Distributed-trace identifiers from the usual propagation headers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_SAFE = re.compile(r"[^A-Za-z0-9._:=;,/+\- ]")
_MAX_LEN = 200


def _clean(value: str) -> str:
    return _SAFE.sub("", value)[:_MAX_LEN]


def extract_trace_ids(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """Return ``trace_id``/``span_id`` plus each configured header found, sanitised.

    ``headers`` must have lower-case names. W3C ``traceparent``, single-header ``b3`` and
    ``sentry-trace`` are split into their trace and span parts; the others are taken as they are.
    """
    found: dict[str, str] = {}
    trace_id = span_id = None
    for name in names:
        raw = headers.get(name.lower())
        if not raw:
            continue
        value = _clean(raw.strip())
        if not value:
            continue
        found[name.lower()] = value
        parts = value.split("-")
        lname = name.lower()
        if lname == "traceparent" and len(parts) >= 3:
            trace_id, span_id = trace_id or parts[1], span_id or parts[2]
        elif lname in ("b3", "sentry-trace") and len(parts) >= 2:
            trace_id, span_id = trace_id or parts[0], span_id or parts[1]
        elif lname in ("x-b3-spanid", "x-span-id"):
            span_id = span_id or value
        else:
            trace_id = trace_id or value
    ids: dict[str, str] = {}
    if trace_id:
        ids["trace_id"] = trace_id
    if span_id:
        ids["span_id"] = span_id
    ids.update(found)
    return ids
