"""Why a slow request was slow: its SQL and HTTP time, N+1s, duplicates, the user's own line.

Runs on the background worker, for alerts only. ``diagnose`` turns a ``SlowEvent``'s raw
records (``capture.Captured``) and its profile's hot lines into a ``Diagnosis``: queries
grouped by normalised statement (``sql_text``), outgoing calls grouped by method and URL
(query values masked, id-like path segments collapsed), the time in SQL, in HTTP calls and in
Python (the rest), and one headline sentence that comes first in the report and the message:

    3.50 s: 2.71 s in 1,001 SQL queries (N+1: `SELECT ... FROM catalog_review WHERE
    product_id = ?` x1,000 at catalog/views.py:27), 0.37 s in Python at catalog/views.py:16

The rules and their sources:

- **N+1**: one normalised statement issued at least ``n_plus_one_min_repeats`` times from one
  call site, its loop lasting at least ``n_plus_one_min_seconds`` (from the first execution's
  start to the last one's end): 5 and 50 ms, Sentry's N+1 detector's defaults (Scout APM's
  insight asks 5 and 150 ms, ``scout_apm/core/n_plus_one_tracker.py``). Both measure the
  queries' own time; here the loop's is measured, because the ORM's per-row work between the
  queries is most of an N+1's cost (600 lazy loads on SQLite: 0.05 s of SQL in a 0.3 s loop)
  and SQL time alone would miss a real N+1 on a fast database.
- **Duplicates**: the same statement with the same parameters, run again (django-debug-toolbar's
  "duplicated" queries, ``debug_toolbar/panels/sql/panel.py``). Without parameters
  (``capture_sql_parameters`` off) a statement that takes them cannot be judged: the group
  says "unknown", it does not guess.
- **Slow query**: one execution over ``slow_query_seconds`` (django-debug-toolbar's
  ``SQL_WARNING_THRESHOLD``, 500 ms).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .capture import Captured
from .capture.context import Call, Query, Site
from .masking import MASK, Masker
from .paths import endpoint_path
from .profiling.base import HotLine, short_path
from .sql_text import normalise

_SHOWN_VALUE = 300  # characters of one masked parameter list shown


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds (``Config`` fields of the same names; defaults and sources above)."""

    slow_query_seconds: float = 0.5
    n_plus_one_min_repeats: int = 5
    n_plus_one_min_seconds: float = 0.05

    @classmethod
    def of(cls, config: Any) -> Rules:
        """The rules a ``Config`` sets."""
        return cls(config.slow_query_seconds, config.n_plus_one_min_repeats,
                   config.n_plus_one_min_seconds)


def where(site: Site | None) -> str:
    """``catalog/views.py:27`` for a call site, ``-`` for none."""
    return f"{short_path(site[0])}:{site[2]}" if site is not None else "-"


@dataclass(slots=True)
class QueryGroup:
    """Executions of one normalised statement.

    ``site`` is the call site most of them came from (``sites`` distinct ones in all);
    ``duplicates``: executions repeating an earlier one's exact statement and parameters, None
    when that cannot be told (parameters not captured); ``parameters``: the first execution's,
    masked, None when not captured.
    """

    statement: str
    count: int = 0
    total: float = 0.0
    max: float = 0.0
    site: Site | None = None
    sites: int = 0
    databases: list[str] = field(default_factory=list)
    n_plus_one: bool = False
    duplicates: int | None = 0
    slow: int = 0
    errors: int = 0
    rows: int | None = None
    parameters: str | None = None


@dataclass(frozen=True, slots=True)
class NPlusOne:
    """One statement repeated from one call site: ``repeats`` times, ``total`` seconds of SQL,
    over a loop of ``span`` seconds (first start to last end)."""

    statement: str
    site: Site | None
    repeats: int
    total: float
    span: float


@dataclass(slots=True)
class CallGroup:
    """Outgoing calls of one method and URL (masked, id-like segments collapsed)."""

    method: str
    url: str
    count: int = 0
    total: float = 0.0
    max: float = 0.0
    site: Site | None = None
    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    library: str = ""


@dataclass(slots=True)
class Diagnosis:
    """What ``diagnose`` found; all text already normalised and masked (not yet escaped).

    Seconds: ``duration`` the request's, ``sql_seconds``/``http_seconds`` summed over every
    query/call (those beyond ``max_queries_per_request`` included), ``python_seconds`` the
    rest. ``headline`` is a list of (text, is_code) pieces: every value that came from the
    application (statements, URLs, file names, functions) is a code piece, the rest are this
    module's own words and numbers; renderers escape each their own way (HTML, Markdown).
    ``headline_text`` is the Markdown-safe sentence: code pieces in backticks, without
    backticks or control characters of their own.
    """

    duration: float
    sql_count: int = 0
    sql_seconds: float = 0.0
    http_count: int = 0
    http_seconds: float = 0.0
    queries: list[QueryGroup] = field(default_factory=list)
    calls: list[CallGroup] = field(default_factory=list)
    n_plus_one: list[NPlusOne] = field(default_factory=list)
    queries_dropped: int = 0
    queries_dropped_seconds: float = 0.0
    calls_dropped: int = 0
    calls_dropped_seconds: float = 0.0
    hot: list[HotLine] = field(default_factory=list)
    headline: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def python_seconds(self) -> float:
        return max(self.duration - self.sql_seconds - self.http_seconds, 0.0)

    @property
    def headline_text(self) -> str:
        return "".join(f"`{_code_span(text)}`" if code else text for text, code in self.headline)


def _code_span(text: str) -> str:
    """``text`` fit for a Markdown code span: no backticks, no line breaks or control
    characters (MySQL's quoted names lose their quotes: ```t`.`id``` is ``t.id``)."""
    return "".join(ch for ch in text if ch != "`" and ord(ch) >= 32)[:300]


def diagnose(duration: float, captured: Captured | None, hot: list[HotLine], masker: Masker,
             rules: Rules) -> Diagnosis:
    """The diagnosis of one slow request (``duration`` seconds) from what it captured."""
    found = Diagnosis(duration=duration, hot=hot)
    if captured is not None:
        found.queries, found.n_plus_one = _group_queries(captured.queries, masker, rules)
        found.calls = _group_calls(captured.calls, masker)
        found.sql_count = len(captured.queries) + captured.queries_dropped
        found.sql_seconds = (sum(q.duration for q in captured.queries)
                             + captured.queries_dropped_seconds)
        found.http_count = len(captured.calls) + captured.calls_dropped
        found.http_seconds = (sum(c.duration for c in captured.calls)
                              + captured.calls_dropped_seconds)
        found.queries_dropped = captured.queries_dropped
        found.queries_dropped_seconds = captured.queries_dropped_seconds
        found.calls_dropped = captured.calls_dropped
        found.calls_dropped_seconds = captured.calls_dropped_seconds
    found.headline = _headline(found, rules)
    return found


def _group_queries(queries: Iterable[Query], masker: Masker,
                   rules: Rules) -> tuple[list[QueryGroup], list[NPlusOne]]:
    groups: dict[str, QueryGroup] = {}
    # (statement, site) -> (count, SQL seconds, first start, last end)
    per_site: dict[tuple[str, Site | None], tuple[int, float, float, float]] = {}
    seen: dict[str, set[str]] = {}  # statement -> exact (statement, parameters) seen
    sites: dict[str, Counter[Site | None]] = {}
    for query in queries:
        normal = normalise(query.statement, query.vendor)
        group = groups.get(normal.text)
        if group is None:
            group = groups[normal.text] = QueryGroup(normal.text)
            seen[normal.text] = set()
            sites[normal.text] = Counter()
            if query.parameters is not None:
                group.parameters = _masked_parameters(query.parameters, normal.placeholders,
                                                      masker)
        group.count += 1
        group.total += query.duration
        group.max = max(group.max, query.duration)
        if query.database not in group.databases:
            group.databases.append(query.database)
        group.slow += query.duration >= rules.slow_query_seconds
        group.errors += query.error is not None
        if query.rows is not None:
            group.rows = (group.rows or 0) + query.rows
        sites[normal.text][query.site] += 1
        end = query.start + query.duration
        count, total, first, last = per_site.get((normal.text, query.site),
                                                 (0, 0.0, query.start, end))
        per_site[(normal.text, query.site)] = (count + 1, total + query.duration,
                                               min(first, query.start), max(last, end))
        if group.duplicates is not None:
            if query.parameters is None and normal.has_placeholders:
                group.duplicates = None  # cannot be told: say so, do not guess
            else:
                exact = f"{query.statement}\x00{query.parameters!r}"
                if exact in seen[normal.text]:
                    group.duplicates += 1
                else:
                    seen[normal.text].add(exact)
    found = []
    for (statement, site), (count, total, first, last) in per_site.items():
        if count >= rules.n_plus_one_min_repeats and last - first >= rules.n_plus_one_min_seconds:
            found.append(NPlusOne(statement, site, count, total, last - first))
            groups[statement].n_plus_one = True
    for statement, group in groups.items():
        ranked = sites[statement].most_common()
        group.site, group.sites = ranked[0][0], len(ranked)
    found.sort(key=lambda item: item.total, reverse=True)
    return sorted(groups.values(), key=lambda g: g.total, reverse=True), found


def _masked_parameters(parameters: Any, names: Sequence[str | None], masker: Masker) -> str:
    """The parameters as a report shows them: a value bound to a sensitive column
    (``password = %s``) or under a sensitive key masked, every other one through the masking
    policy (URLs, tokens, card numbers in text)."""
    def row(values: Any) -> Any:
        if isinstance(values, dict):
            return masker.value(values)
        if isinstance(values, (list, tuple)):
            return [MASK if i < len(names) and names[i] and masker.is_sensitive(names[i])
                    else masker.value(value) for i, value in enumerate(values)]
        return masker.value(values)

    many = (isinstance(parameters, (list, tuple)) and parameters
            and all(isinstance(p, (list, tuple, dict)) for p in parameters))
    shown = [row(p) for p in parameters] if many else row(parameters)
    text = repr(shown)
    return text if len(text) <= _SHOWN_VALUE else text[:_SHOWN_VALUE - 1] + "…"


def _call_key(call: Call, masker: Masker) -> str:
    """A call's URL as grouped and shown: masked, without query or fragment, ids collapsed."""
    try:
        parts = urlsplit(call.url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        base = f"{parts.scheme}://{host}" if parts.scheme else host
        url = base + endpoint_path(parts.path or "/")
        query = "?…" if parts.query else ""
    except ValueError:  # not a URL the parser takes: shown masked, whole
        return str(masker.text(call.url))
    return str(masker.text(url)) + query


def _group_calls(calls: Iterable[Call], masker: Masker) -> list[CallGroup]:
    groups: dict[tuple[str, str], CallGroup] = {}
    sites: dict[tuple[str, str], Counter[Site | None]] = {}
    for call in calls:
        key = (call.method.upper(), _call_key(call, masker))
        group = groups.get(key)
        if group is None:
            group = groups[key] = CallGroup(*key, library=call.library)
            sites[key] = Counter()
        group.count += 1
        group.total += call.duration
        group.max = max(group.max, call.duration)
        sites[key][call.site] += 1
        if call.status is not None and call.status not in group.statuses:
            group.statuses.append(call.status)
        if call.error is not None and call.error not in group.errors:
            group.errors.append(call.error)
    for key, group in groups.items():
        group.site = sites[key].most_common(1)[0][0]
    return sorted(groups.values(), key=lambda g: g.total, reverse=True)


def brief(statement: str, limit: int = 160) -> str:
    """A statement short enough for a sentence: a long select list becomes ``...``."""
    head, sep, rest = statement.partition(" FROM ")
    if sep and head[:7].upper() == "SELECT " and len(head) > 30:
        statement = f"SELECT ...{sep}{rest}"
    return statement if len(statement) <= limit else statement[:limit - 1] + "…"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _headline(found: Diagnosis, rules: Rules) -> list[tuple[str, bool]]:
    pieces: list[tuple[str, bool]] = [(f"{found.duration:.2f} s: ", False)]

    def add(text: str, code: bool = False) -> None:
        pieces.append((text, code))

    parts = 0
    if found.sql_count:
        add(f"{found.sql_seconds:.2f} s in {_plural(found.sql_count, 'SQL query', 'SQL queries')}")
        slow = max(found.queries, key=lambda g: g.max, default=None)
        if found.n_plus_one:
            top = found.n_plus_one[0]
            add(" (N+1: ")
            add(brief(top.statement), True)
            kept = found.sql_count - found.queries_dropped
            among = f" of the first {kept:,} kept" if found.queries_dropped else ""
            add(f" ×{top.repeats:,}{among} at ")
            add(where(top.site), True)
            add(")")
        elif slow is not None and slow.max >= rules.slow_query_seconds:
            add(" (slowest: ")
            add(brief(slow.statement), True)
            add(f" {slow.max:.2f} s at ")
            add(where(slow.site), True)
            add(")")
        parts += 1
    if found.http_count:
        if parts:
            add(", ")
        add(f"{found.http_seconds:.2f} s in "
            f"{_plural(found.http_count, 'HTTP call', 'HTTP calls')}")
        if found.calls:
            top_call = max(found.calls, key=lambda g: g.max)
            add(" (slowest: ")
            add(f"{top_call.method} {brief(top_call.url)}", True)
            add(f" {top_call.max:.2f} s at ")
            add(where(top_call.site), True)
            add(")")
        parts += 1
    if parts:
        add(", ")
    pieces += _python_part(found, explained=parts > 0)
    return pieces


def _python_part(found: Diagnosis, explained: bool) -> list[tuple[str, bool]]:
    """The rest of the time: in Python at the hottest line that computes, or, when nothing
    else explains it, waiting at the line that blocks (``time.sleep``, a socket read)."""
    rest = found.python_seconds
    if not found.hot:
        return [(f"{rest:.2f} s in Python (no line sampled)", False)]
    computing = max(found.hot, key=lambda line: line.seconds - line.waiting)
    waiting = max(found.hot, key=lambda line: line.waiting)
    if not explained and waiting.waiting > computing.seconds - computing.waiting:
        via = [(" in ", False), (waiting.via, True)] if waiting.via else []
        return [(f"{waiting.waiting:.2f} s waiting at ", False), (waiting.where, True), *via]
    return [(f"{rest:.2f} s in Python at ", False), (computing.where, True)]
