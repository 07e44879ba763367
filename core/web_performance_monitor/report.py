"""Turning a slow event into an alert: masked request data, a safe file name, one HTML page.

The page opens with one sentence saying why the request was slow (``diagnosis``), then its
queries, outgoing calls and hot lines; it embeds the same facts as JSON for scripts
(``<script type=application/json id=wpm-event>``, docs/report-json.md). Every time in it is
UTC, labelled.

The page is self-contained (inline CSS, pyinstrument's own renderer inlined through ``srcdoc``)
so it opens from a chat attachment or a file share without network access. Every string that
came from a request is masked (``masking.Masker``) and escaped with ``html.escape``; nothing
request-controlled reaches a path. ``encode_text`` is where text becomes bytes (the file, the
attachment): odd text, such as a lone surrogate from a JSON body, is shown escaped, never fatal.
"""

from __future__ import annotations

import html
import importlib.metadata
import json
import platform
import re
import socket
import sys
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .capture.context import Site
from .diagnosis import Diagnosis, Rules, diagnose, where
from .events import Alert, SlowEvent
from .masking import Masker, safe_text
from .profiling.base import SCRIPT_SAFE, short_path
from .request import describe_request

REPORT_PREFIX = "wpm_"
REPORT_SUFFIX = ".html"
INDEX_FILENAME = "index.html"  # beside the reports, linked from each (``index.py``)
_SLUG_MAX = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_PACKAGES = ("web-performance-monitor", "pyinstrument", "flask", "django", "sanic")


def encode_text(text: str) -> bytes:
    """The report (or message) as UTF-8 bytes; never raises (``masking.safe_text``)."""
    return safe_text(text).encode("utf-8")


def slugify(endpoint: str) -> str:
    """A file-name-safe slug: ASCII letters, digits, ``-`` and ``_`` only, bounded length."""
    slug = _UNSAFE.sub("-", endpoint).strip("-_")
    return slug[:_SLUG_MAX].rstrip("-_") or "endpoint"


def report_filename(endpoint: str, when: float, service: str = "") -> str:
    """``wpm_<service>_<endpoint>_<UTC time>_<random>.html``: slugs only (``slugify``), so
    nothing from a request picks a path; without a service, ``wpm_<endpoint>_...``."""
    stamp = datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    prefix = f"{slugify(service)[:40]}_" if service else ""
    return (f"{REPORT_PREFIX}{prefix}{slugify(endpoint)}_{stamp}_{uuid.uuid4().hex[:8]}"
            f"{REPORT_SUFFIX}")


@lru_cache(maxsize=1)
def environment() -> dict[str, str]:
    """Facts about the process that do not change while it runs."""
    facts = {
        "host": socket.gethostname(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "executable": sys.executable,
    }
    for name in _PACKAGES:
        try:
            facts[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return facts


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(rows: Iterable[tuple[Any, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>" if body else "<p class=muted>none</p>"


def _when(timestamp: float) -> str:
    """``2026-11-30 17:20:10.123 UTC``: the one zone every time in a report is in."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[
        :-3] + " UTC"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:20px;word-break:break-all}
header p{margin:4px 0 0;color:#c5cad6}main{padding:8px 28px 40px;max-width:1400px}
.headline{font-size:17px;line-height:1.5;color:#fff;margin:10px 0 0;word-break:break-word}
.headline code{background:#33405c;color:#ffd88a;padding:1px 5px;border-radius:3px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:6px;margin:16px 0;
  padding:6px 18px 14px}
h2{font-size:15px;margin:12px 0 8px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:3px 10px 3px 0;
  border-bottom:1px solid #f0f1f4;word-break:break-all}
th{width:220px;color:#5a6275;font-weight:600}
table.grid th{width:auto;border-bottom:2px solid #e1e4ea;white-space:nowrap}
table.grid td.site{white-space:nowrap;word-break:normal}
table.grid td.n{text-align:right;white-space:nowrap;word-break:normal}
table.grid td code{font-size:12px;word-break:break-word}
.flag{display:inline-block;font-size:11px;font-weight:700;padding:0 5px;margin:0 4px 2px 0;
  border-radius:3px;background:#fdecea;color:#a93226}
.flag.dup{background:#fef5e7;color:#9a5b00}.flag.slowq{background:#f4ecf7;color:#6c3483}
pre{background:#0f1320;color:#e6e9ef;padding:12px;overflow:auto;border-radius:4px;
  font-size:12px;max-height:600px}
.slow{color:#c0392b;font-weight:700}.muted{color:#8a90a0}
iframe{width:100%;height:720px;border:1px solid #e1e4ea;border-radius:4px}
"""


def _site_cell(site: Site | None) -> str:
    """A call site cell (a ``\x01`` start: the cell keeps to one line)."""
    if site is None:
        return "\x01<span class=muted>-</span>"
    return f"\x01<code>{_e(where(site))}</code> <span class=muted>{_e(site[1])}</span>"


def _grid(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table of already-escaped cells (a cell starting ``\x00`` is a right-aligned number,
    ``\x01`` a call site)."""
    def cell(value: str) -> str:
        kind = {"\x00": " class=n", "\x01": " class=site"}.get(value[:1])
        return f"<td{kind}>{value[1:]}</td>" if kind else f"<td>{value}</td>"
    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    heading = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table class=grid><tr>{heading}</tr>{body}</table>"


def _n(value: str) -> str:
    return "\x00" + _e(value)


def _queries_html(found: Diagnosis, rules: Rules) -> str:
    if not found.sql_count:
        return "<p class=muted>No SQL queries were captured.</p>"
    rows = []
    for group in found.queries:
        flags = ""
        if group.n_plus_one:
            flags += "<span class=flag>N+1</span>"
        if group.duplicates:
            flags += f"<span class='flag dup'>{group.duplicates:,} duplicate</span>"
        if group.slow:
            flags += f"<span class='flag slowq'>{group.slow:,} slow</span>"
        if group.errors:
            flags += f"<span class=flag>{group.errors:,} failed</span>"
        duplicates = ("unknown (parameters not captured)" if group.duplicates is None
                      else f"{group.duplicates:,}")
        details = [f"databases: {', '.join(group.databases)}", f"duplicates: {duplicates}"]
        if group.sites > 1:
            details.append(f"{group.sites} call sites")
        if group.rows is not None:
            details.append(f"executemany rows: {group.rows:,}")
        if group.parameters is not None:
            details.append(f"parameters (first, masked): {group.parameters}")
        rows.append([f"{flags}<code>{_e(group.statement)}</code>"
                     f"<div class=muted>{_e('; '.join(details))}</div>",
                     _n(f"{group.count:,}"), _n(f"{group.total:.3f} s"),
                     _n(f"{group.max:.3f} s"), _site_cell(group.site)])
    parts = [f"<p>{found.sql_count:,} queries, {found.sql_seconds:.3f} s in all "
             f"({len(found.queries):,} distinct statements). N+1: the same statement "
             f"&ge; {rules.n_plus_one_min_repeats} times from one line taking &ge; "
             f"{rules.n_plus_one_min_seconds:g} s; slow: over {rules.slow_query_seconds:g} s."
             "</p>"]
    if found.queries_dropped:
        parts.append(f"<p class=slow>{sum(g.count for g in found.queries):,} kept, "
                     f"{found.queries_dropped:,} more not kept: "
                     f"{found.queries_dropped_seconds:.3f} s (max_queries_per_request)</p>")
    parts.append(_grid(["statement", "count", "total", "max", "call site"], rows))
    return "".join(parts)


def _calls_html(found: Diagnosis) -> str:
    if not found.http_count:
        return "<p class=muted>No outgoing HTTP calls were captured.</p>"
    rows = [[f"<code>{_e(group.method)} {_e(group.url)}</code>",
             _e(", ".join([*map(str, group.statuses), *group.errors]) or "-"),
             _n(f"{group.count:,}"), _n(f"{group.total:.3f} s"), _n(f"{group.max:.3f} s"),
             _site_cell(group.site)] for group in found.calls]
    parts = [f"<p>{found.http_count:,} calls, {found.http_seconds:.3f} s in all.</p>"]
    if found.calls_dropped:
        parts.append(f"<p class=slow>{sum(g.count for g in found.calls):,} kept, "
                     f"{found.calls_dropped:,} more not kept: "
                     f"{found.calls_dropped_seconds:.3f} s</p>")
    parts.append(_grid(["call", "status", "count", "total", "max", "call site"], rows))
    return "".join(parts)


def _hot_html(found: Diagnosis) -> str:
    if not found.hot:
        return ""
    rows = [[f"<code>{_e(line.where)}</code> {_e(line.function)}",
             _n(f"{line.seconds:.3f} s"),
             _n(f"{line.waiting:.3f} s") if line.waiting else _n("-"),
             _e(line.via) if line.via else "<span class=muted>its own code</span>"]
            for line in found.hot]
    return ("<h2>Hot lines of your code</h2><p class=muted>Library and standard-library frames "
            "are folded into the line of your code that called them; waiting: blocked in a C "
            "call there (sleep, socket read, database driver) or awaiting.</p>"
            + _grid(["line", "time under it", "of which waiting", "in"], rows))


def _headline_html(found: Diagnosis) -> str:
    return "".join(f"<code>{_e(text)}</code>" if code else _e(text)
                   for text, code in found.headline)


def render_html(event: SlowEvent, request: dict[str, Any] | None, trace: dict[str, str],
                found: Diagnosis, suppressed_before: int, rules: Rules,
                facts: dict[str, Any]) -> str:
    """The whole report page; every dynamic value goes through ``html.escape``, the facts
    through ``json.dumps`` made safe for a script element (``SCRIPT_SAFE``). Its
    Content-Security-Policy runs no script but the embedded profile viewer's own (by hash)."""
    summary = [
        ("service", event.service or "-"),
        ("endpoint", event.endpoint),
        ("duration", f"{event.duration:.3f} s (threshold {event.threshold:.3f} s, "
                     f"{event.duration / event.threshold:.1f}x)" if event.threshold else
                     f"{event.duration:.3f} s"),
        ("time", f"{found.sql_seconds:.3f} s in SQL, {found.http_seconds:.3f} s in HTTP calls, "
                 f"{found.python_seconds:.3f} s in Python (the rest)"),
        ("status", event.status if event.status is not None else "-"),
        ("started at", _when(event.started_at)),
        ("process / thread", f"{event.pid} / {event.thread}"),
    ]
    cpu = event.profile.cpu if event.profile is not None else None
    if cpu is not None and cpu[1] > 0:
        summary.append(("CPU time of its thread", f"{cpu[0]:.3f} s over the last {cpu[1]:.3f} s "
                        f"of the request ({100 * cpu[0] / cpu[1]:.0f}%)"))
    if event.error:
        summary.append(("exception", event.error))
    if suppressed_before:
        summary.append(("slow, not alerted since last alert", suppressed_before))
    summary.extend(trace.items())
    sections = [f"<section><h2>Summary</h2>{_table(summary)}</section>",
                f"<section><h2>SQL queries</h2>{_queries_html(found, rules)}</section>",
                f"<section><h2>Outgoing HTTP calls</h2>{_calls_html(found)}</section>"]
    if request is not None:
        facts_rows = [("method", request["method"]), ("path", request["path"]),
                      ("route", request["route"] or "-"), ("client", request["client"] or "-")]
        body = request["body"]
        sections.append(f"<section><h2>Request</h2>{_table(facts_rows)}"
                        f"<h2>Query parameters</h2>{_table(request['query'])}"
                        f"<h2>Headers</h2>{_table(request['headers'])}"
                        f"<h2>Body</h2>{_body_html(body)}</section>")
    if event.call is not None:
        sections.append(f"<section><h2>Function call</h2>{_table(event.call.items())}</section>")
    sections.append(f"<section><h2>Where the time went</h2>{_hot_html(found)}"
                    f"{_profile_html(event)}</section>")
    environment_rows = [("service", event.service or "-"), ("framework", event.framework or "-"),
                        *environment().items()]
    sections.append(f"<section><h2>Environment</h2>{_table(environment_rows)}</section>")
    title = _title(event)
    data = json.dumps(facts, ensure_ascii=False, default=str).translate(SCRIPT_SAFE)
    scripts = event.profile.script_sources if event.profile is not None else ""
    policy = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              f"script-src {scripts or chr(39) + 'none' + chr(39)}")
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<meta http-equiv=Content-Security-Policy content=\"{_e(policy)}\">"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header>{_index_link()}<h1>{_e(title)}</h1>"
        f"<p class=headline>{_headline_html(found)}</p>"
        f"<p>{_e(_when(event.started_at))} &middot; threshold {event.threshold:.3f} s</p>"
        "</header>"
        f"<main>{''.join(sections)}</main>"
        f"<script type=application/json id=wpm-event>{data}</script></body></html>"
    )


def _body_html(body: dict[str, Any]) -> str:
    if not body:
        return "<p class=muted>none</p>"
    parts = []
    if "summary" in body:
        parts.append(f"<p>{_e(body['summary'])}</p>")
    if "json" in body:
        text = json.dumps(body["json"], indent=2, ensure_ascii=False, default=str)
        parts.append(f"<pre>{_e(text[:200_000])}</pre>")
    if "form" in body:
        parts.append(_table(body["form"]))
    for item in body.get("files", []):
        parts.append(f"<p>file field {_e(item['field'])}: {_e(item['filename'])} "
                     f"({_e(item['content_type'])}, {_e(item['size'])} bytes, not stored)</p>")
    return "".join(parts)


def _profile_html(event: SlowEvent) -> str:
    profile = event.profile
    if profile is None or profile.session is None:
        note = profile.note if profile is not None and profile.note else "no profile was recorded"
        return f"<p class=muted>Profile missing: {_e(note)}</p>"
    parts = []
    try:
        text = profile.render_text() or ""
        page = profile.render_html()
    except Exception as exc:
        return f"<p class=muted>Profile could not be rendered: {_e(repr(exc))}</p>"
    if profile.note:  # e.g. samples merged to fit max_profile_bytes
        parts.append(f"<p class=muted>{_e(profile.note)}</p>")
    parts.append(f"<h2>Call tree</h2><pre>{_e(text)}</pre>")
    if page:
        # Sandboxed without allow-same-origin (with it, a script in the frame could reach this
        # page and undo the sandbox): the frame runs in an opaque origin, its own page gives
        # the viewer storage in memory and runs only its own scripts.
        parts.append("<h2>Interactive profile (pyinstrument)</h2>"
                     f"<iframe sandbox='allow-scripts' srcdoc=\"{_e(page)}\"></iframe>")
    return "".join(parts)


def _title(event: SlowEvent) -> str:
    service = f" ({event.service})" if event.service else ""
    return f"Slow {event.kind}: {event.endpoint}{service}"


def _index_link() -> str:
    """The header's way back to the folder's page of every alert (``index.py`` writes it)."""
    return f"<p><a href={INDEX_FILENAME} style='color:#9cc3ff'>&larr; All slow endpoints</a></p>"


def _md(text: str) -> str:
    """Request-derived text inside Markdown code spans: no backticks, no line breaks."""
    return re.sub(r"[`\r\n\x00-\x1f]", "?", text)[:300]


def _message(event: SlowEvent, trace: dict[str, str], found: Diagnosis,
             suppressed_before: int) -> str:
    """The chat message: the headline first, then the facts a reader acts on."""
    lines = [
        found.headline_text,
        f"**Slow {event.kind}: `{_md(event.endpoint)}`**"
        + (f" in `{_md(event.service)}`" if event.service else ""),
        f"Duration **{event.duration:.3f} s** (threshold {event.threshold:.3f} s)"
        + (f", status {event.status}" if event.status is not None else ""),
    ]
    if "trace_id" in trace:
        lines.append(f"Trace id `{_md(trace['trace_id'])}`")
    if suppressed_before:
        lines.append(f"{suppressed_before} more slow requests since the previous alert "
                     "were not alerted")
    if found.hot:
        lines.append("Hot lines:")
        lines.extend(f"{i}. `{_md(line.label)}` {line.seconds:.3f} s" for i, line in
                     enumerate(found.hot[:3], 1))
    elif event.profile is not None and event.profile.note:
        lines.append(f"Profile missing: {_md(event.profile.note)}")
    lines.append(f"Host {environment()['host']}, pid {event.pid}, at {_when(event.started_at)}")
    return "\n".join(lines)


def _site_json(site: Site | None) -> dict[str, Any] | None:
    if site is None:
        return None
    return {"file": short_path(site[0]), "function": site[1], "line": site[2]}


def event_facts(event: SlowEvent, trace: dict[str, str], found: Diagnosis, filename: str,
                suppressed_before: int) -> dict[str, Any]:
    """The report's machine-readable facts (``wpm-event``; fields in docs/report-json.md)."""
    cpu = event.profile.cpu if event.profile is not None else None
    return {
        "version": 1,
        "kind": event.kind,
        "service": event.service or None,
        "endpoint": event.endpoint,
        "framework": event.framework or None,
        "duration_seconds": round(event.duration, 6),
        "threshold_seconds": round(event.threshold, 6),
        "status": event.status,
        "error": event.error,
        "started_at": _iso(event.started_at),
        "trace_ids": dict(trace),
        "headline": found.headline_text,
        "time": {"sql_seconds": round(found.sql_seconds, 6),
                 "http_seconds": round(found.http_seconds, 6),
                 "python_seconds": round(found.python_seconds, 6)},
        "cpu": None if cpu is None else {"seconds": round(cpu[0], 6),
                                         "over_seconds": round(cpu[1], 6)},
        "queries": {
            "count": found.sql_count, "seconds": round(found.sql_seconds, 6),
            "not_kept": found.queries_dropped,
            "not_kept_seconds": round(found.queries_dropped_seconds, 6),
            "n_plus_one": [{"statement": item.statement, "site": _site_json(item.site),
                            "count": item.repeats, "seconds": round(item.total, 6)}
                           for item in found.n_plus_one],
            "groups": [{"statement": g.statement, "count": g.count,
                        "seconds": round(g.total, 6), "max_seconds": round(g.max, 6),
                        "site": _site_json(g.site), "sites": g.sites,
                        "databases": g.databases, "n_plus_one": g.n_plus_one,
                        "duplicates": g.duplicates, "slow": g.slow, "errors": g.errors}
                       for g in found.queries],
        },
        "calls": {
            "count": found.http_count, "seconds": round(found.http_seconds, 6),
            "not_kept": found.calls_dropped,
            "not_kept_seconds": round(found.calls_dropped_seconds, 6),
            "groups": [{"method": g.method, "url": g.url, "count": g.count,
                        "seconds": round(g.total, 6), "max_seconds": round(g.max, 6),
                        "statuses": g.statuses, "errors": g.errors, "library": g.library,
                        "site": _site_json(g.site)} for g in found.calls],
        },
        "hot_lines": [{"function": line.function, "file": short_path(line.file),
                       "line": line.line, "seconds": round(line.seconds, 6),
                       "waiting_seconds": round(line.waiting, 6), "via": line.via or None}
                      for line in found.hot],
        "suppressed_before": suppressed_before,
        "host": environment()["host"],
        "pid": event.pid,
        "report": filename,
    }


def build_alert(event: SlowEvent, masker: Masker, trace_headers: list[str],
                suppressed_before: int, rules: Rules | None = None) -> Alert:
    """Mask, parse, diagnose and render one slow event; runs on the background worker.

    ``rules``: the diagnosis thresholds (``Rules.of(config)``; their defaults when None).
    """
    rules = rules if rules is not None else Rules()
    request = None
    trace: dict[str, str] = {}
    if event.record is not None:
        request = describe_request(event.record, masker, trace_headers)
        trace = request["trace"]
    hot = event.profile.hot_lines() if event.profile is not None else []
    found = diagnose(event.duration, event.captured, hot, masker, rules)
    filename = report_filename(event.endpoint, event.started_at, event.service)
    facts = event_facts(event, trace, found, filename, suppressed_before)
    return Alert(
        event=event,
        suppressed_before=suppressed_before,
        title=safe_text(_title(event)),
        message=safe_text(_message(event, trace, found, suppressed_before)),
        html=safe_text(render_html(event, request, trace, found, suppressed_before, rules,
                                   facts)),
        filename=filename,
        trace=trace,
        hot_frames=[(line.label, line.seconds) for line in hot[:3]],
        request=request,
        headline=safe_text(found.headline_text),
        facts=facts,
    )
