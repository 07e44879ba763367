"""Distributed-trace identifiers from the usual propagation headers, one validator per format.

A header that does not follow its format carries no ids (``b3: 0`` is a sampling decision, not
a trace id ``0``): it is skipped and the next configured header is tried. Formats:

- W3C ``traceparent`` (https://www.w3.org/TR/trace-context/#traceparent-header):
  ``version-traceid-parentid-flags``, 2/32/16/2 lower-case hex, version not ``ff``, ids not all
  zero; version ``00`` has exactly four fields, later versions may append more.
- B3 single header ``b3`` (openzipkin/b3-propagation): ``traceid-spanid[-sampled[-parent]]``,
  trace id 16 or 32 lower-case hex, span id 16; a lone ``0``, ``1`` or ``d`` carries no ids.
- ``x-b3-traceid`` (16 or 32 hex) and ``x-b3-spanid`` (16 hex), ids not all zero.
- ``sentry-trace``: ``traceid-spanid[-sampled]``, 32 and 16 lower-case hex.
- Any other configured header (``x-request-id``, ``x-trace-id``, ``x-span-id``) is an opaque
  id: kept, cleaned of unusual characters and bounded in length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

_SAFE = re.compile(r"[^A-Za-z0-9._:=;,/+\- ]")
_MAX_LEN = 200
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_B3 = re.compile(r"([0-9a-f]{32}|[0-9a-f]{16})-([0-9a-f]{16})(?:-[01d](?:-[0-9a-f]{16})?)?")
_SENTRY = re.compile(r"([0-9a-f]{32})-([0-9a-f]{16})(?:-[01])?")
_B3_TRACE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{16}")
_B3_SPAN = re.compile(r"[0-9a-f]{16}")

# (trace id, span id) of a header value; (None, None) when it does not follow its format.
Ids = tuple[str | None, str | None]
_NONE: Ids = (None, None)


def _nonzero(value: str | None) -> str | None:
    return value if value and value.strip("0") else None


def _traceparent(value: str) -> Ids:
    match = _TRACEPARENT.fullmatch(value)
    if match is None or match[1] == "ff" or (match[1] == "00" and match[5]):
        return _NONE
    trace, span = _nonzero(match[2]), _nonzero(match[3])
    return (trace, span) if trace and span else _NONE


def _pair(pattern: re.Pattern[str]) -> Callable[[str], Ids]:
    def parse(value: str) -> Ids:
        match = pattern.fullmatch(value)
        if match is None:
            return _NONE
        trace, span = _nonzero(match[1]), _nonzero(match[2])
        return (trace, span) if trace and span else _NONE

    return parse


def _b3_trace(value: str) -> Ids:
    value = value.lower()
    return (_nonzero(value), None) if _B3_TRACE.fullmatch(value) else _NONE


def _b3_span(value: str) -> Ids:
    value = value.lower()
    return (None, _nonzero(value)) if _B3_SPAN.fullmatch(value) else _NONE


def _opaque(kind: str) -> Callable[[str], Ids]:
    def parse(value: str) -> Ids:
        cleaned = _SAFE.sub("", value)[:_MAX_LEN]
        if not cleaned:
            return _NONE
        return (None, cleaned) if kind == "span" else (cleaned, None)

    return parse


VALIDATORS: dict[str, Callable[[str], Ids]] = {
    "traceparent": _traceparent,
    "b3": _pair(_B3),
    "sentry-trace": _pair(_SENTRY),
    "x-b3-traceid": _b3_trace,
    "x-b3-spanid": _b3_span,
    "x-span-id": _opaque("span"),
}
_OPAQUE_TRACE = _opaque("trace")


def extract_trace_ids(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """Return ``trace_id``/``span_id`` plus each configured header that carried ids.

    ``headers`` must have lower-case names. The first valid header in ``names`` order gives
    each id; invalid ones are left out.
    """
    found: dict[str, str] = {}
    trace_id = span_id = None
    for name in names:
        lname = name.lower()
        raw = headers.get(lname)
        if not raw:
            continue
        value = raw.strip()
        trace, span = VALIDATORS.get(lname, _OPAQUE_TRACE)(value)
        if trace is None and span is None:
            continue
        found[lname] = _SAFE.sub("", value)[:_MAX_LEN]
        trace_id = trace_id or trace
        span_id = span_id or span
    ids: dict[str, str] = {}
    if trace_id:
        ids["trace_id"] = trace_id
    if span_id:
        ids["span_id"] = span_id
    ids.update(found)
    return ids
