"""Turning a slow event into an alert: masked request data, a safe file name, one HTML page.

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

from .events import Alert, SlowEvent
from .masking import Masker, safe_text
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


def report_filename(endpoint: str, when: float) -> str:
    stamp = datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{REPORT_PREFIX}{slugify(endpoint)}_{stamp}_{uuid.uuid4().hex[:8]}{REPORT_SUFFIX}"


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
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:20px;word-break:break-all}
header p{margin:4px 0 0;color:#c5cad6}main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:6px;margin:16px 0;
  padding:6px 18px 14px}
h2{font-size:15px;margin:12px 0 8px}table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:3px 10px 3px 0;
  border-bottom:1px solid #f0f1f4;word-break:break-all}
th{width:220px;color:#5a6275;font-weight:600}
pre{background:#0f1320;color:#e6e9ef;padding:12px;overflow:auto;border-radius:4px;
  font-size:12px;max-height:600px}
.slow{color:#c0392b;font-weight:700}.muted{color:#8a90a0}
iframe{width:100%;height:720px;border:1px solid #e1e4ea;border-radius:4px}
"""


def render_html(event: SlowEvent, request: dict[str, Any] | None, trace: dict[str, str],
                hot: list[tuple[str, float]], suppressed_before: int) -> str:
    """The whole report page; every dynamic value goes through ``html.escape``."""
    summary = [
        ("endpoint", event.endpoint),
        ("duration", f"{event.duration:.3f} s (threshold {event.threshold:.3f} s, "
                     f"{event.duration / event.threshold:.1f}x)" if event.threshold else
                     f"{event.duration:.3f} s"),
        ("status", event.status if event.status is not None else "-"),
        ("started at", _when(event.started_at)),
        ("process / thread", f"{event.pid} / {event.thread}"),
    ]
    if event.error:
        summary.append(("exception", event.error))
    if suppressed_before:
        summary.append(("slow, not alerted since last alert", suppressed_before))
    summary.extend(trace.items())
    sections = [f"<section><h2>Summary</h2>{_table(summary)}</section>"]
    if request is not None:
        facts = [("method", request["method"]), ("path", request["path"]),
                 ("route", request["route"] or "-"), ("client", request["client"] or "-")]
        body = request["body"]
        sections.append(f"<section><h2>Request</h2>{_table(facts)}"
                        f"<h2>Query parameters</h2>{_table(request['query'])}"
                        f"<h2>Headers</h2>{_table(request['headers'])}"
                        f"<h2>Body</h2>{_body_html(body)}</section>")
    if event.call is not None:
        sections.append(f"<section><h2>Function call</h2>{_table(event.call.items())}</section>")
    sections.append(f"<section><h2>Where the time went</h2>{_profile_html(event, hot)}</section>")
    sections.append(f"<section><h2>Environment</h2>{_table(environment().items())}</section>")
    title = f"Slow {event.kind}: {event.endpoint}"
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p class=slow>{event.duration:.3f} s</p>{_index_link()}"
        "</header>"
        f"<main>{''.join(sections)}</main></body></html>"
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


def _profile_html(event: SlowEvent, hot: list[tuple[str, float]]) -> str:
    profile = event.profile
    if profile is None or profile.session is None:
        note = profile.note if profile is not None and profile.note else "no profile was recorded"
        return f"<p class=muted>Profile missing: {_e(note)}</p>"
    parts = []
    if hot:
        parts.append("<h2>Hot functions (self time)</h2>" +
                     _table((name, f"{seconds:.3f} s") for name, seconds in hot))
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


def _index_link() -> str:
    """The header's way back to the folder's page of every alert (``index.py`` writes it)."""
    return f"<p><a href={INDEX_FILENAME} style='color:#9cc3ff'>&larr; All slow endpoints</a></p>"


def _md(text: str) -> str:
    """Request-derived text inside Markdown code spans: no backticks, no line breaks."""
    return re.sub(r"[`\r\n\x00-\x1f]", "?", text)[:300]


def _message(event: SlowEvent, trace: dict[str, str], hot: list[tuple[str, float]],
             suppressed_before: int) -> str:
    lines = [
        f"**Slow {event.kind}: `{_md(event.endpoint)}`**",
        f"Duration **{event.duration:.3f} s** (threshold {event.threshold:.3f} s)"
        + (f", status {event.status}" if event.status is not None else ""),
    ]
    if "trace_id" in trace:
        lines.append(f"Trace id `{_md(trace['trace_id'])}`")
    if suppressed_before:
        lines.append(f"{suppressed_before} more slow requests since the previous alert "
                     "were not alerted")
    if hot:
        lines.append("Hot functions:")
        lines.extend(f"{i}. `{_md(name)}` {seconds:.3f} s" for i, (name, seconds) in
                     enumerate(hot, 1))
    elif event.profile is not None and event.profile.note:
        lines.append(f"Profile missing: {_md(event.profile.note)}")
    lines.append(f"Host {environment()['host']}, pid {event.pid}, at {_when(event.started_at)}")
    return "\n".join(lines)


def build_alert(event: SlowEvent, masker: Masker, trace_headers: list[str],
                suppressed_before: int) -> Alert:
    """Mask, parse and render one slow event; runs on the background worker."""
    request = None
    trace: dict[str, str] = {}
    if event.record is not None:
        request = describe_request(event.record, masker, trace_headers)
        trace = request["trace"]
    hot = event.profile.hot_frames() if event.profile is not None else []
    return Alert(
        event=event,
        suppressed_before=suppressed_before,
        title=safe_text(f"Slow {event.kind}: {event.endpoint}"),
        message=safe_text(_message(event, trace, hot, suppressed_before)),
        html=safe_text(render_html(event, request, trace, hot, suppressed_before)),
        filename=report_filename(event.endpoint, event.started_at),
        trace=trace,
        hot_frames=hot,
        request=request,
    )
