"""The report folder's ``index.html``: one row per endpoint, every alert's report one click away.

Issue 16: after the first report a user had a folder of separate HTML files and no way to see
which endpoints are slow, how often, or where the earlier reports are. The background worker
rewrites this page after each alert (``refresh_index``); the ``wpm`` command writes it on demand
(``write_index``, ``index_path``).

The page is one self-contained file that works from ``file://`` without a network: the report's
own CSS (``report._CSS``) and one small script, embedded, that sorts the table by any column
and filters it by text and service. A Content-Security-Policy lets only that script run (by its
hash, as ``profiling.base._interactive_page`` does for pyinstrument's viewer), and the script
reads the rows that are already in the page: no data ever reaches a script, every value is
text escaped with ``html.escape``. Links go only to report file names that are plain names in
the folder (``report_link``), and only to files that still exist there (the report files and
the store's records are pruned separately, so a record may outlive its file).
"""

from __future__ import annotations

import html
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote

from .history import AlertRecord, EndpointSummary
from .notifiers.local_file import write_atomically
from .profiling.base import _sha256
from .report import _CSS, INDEX_FILENAME, REPORT_PREFIX, REPORT_SUFFIX, encode_text

if TYPE_CHECKING:
    from .config import Config
    from .store import AlertStore

__all__ = ["HISTORY_LIMIT", "index_path", "refresh_index", "render_index",
           "report_link", "write_index"]

# Alerts read from the store for one page: the default report_retention_count (500) twice over,
# so every report still in the folder has its row's link.
HISTORY_LIMIT = 1000
# A report file name as ``report.report_filename`` makes it: the prefix, a slug of ASCII
# letters, digits, ``-`` and ``_``, the suffix. No separator, no dot before the suffix.
_REPORT_NAME = re.compile(re.escape(REPORT_PREFIX) + r"[A-Za-z0-9_-]{1,200}"
                          + re.escape(REPORT_SUFFIX))


def index_path(config: Config) -> str:
    """Where the index page of ``config``'s report folder is: ``<local_output_dir>/index.html``
    (absolute)."""
    return os.path.join(os.path.abspath(config.local_output_dir), INDEX_FILENAME)


def report_link(name: str | None, existing: set[str]) -> str | None:
    """``name`` when it is a report file name that may be linked, else None.

    Only a plain name of the form ``report.report_filename`` gives (no ``/``, no ``..``, the
    report prefix and suffix) that is among ``existing`` (the folder's file names): nothing the
    store holds can point the page outside the folder or at another kind of file.
    """
    if name is None or not _REPORT_NAME.fullmatch(name) or name not in existing:
        return None
    return name


def write_index(folder: str, summaries: Sequence[EndpointSummary],
                records: Sequence[AlertRecord], now: float | None = None) -> str:
    """Write ``folder/index.html`` atomically (a temporary file renamed over it, 0640); its path.

    ``summaries``: one per endpoint (``store.endpoints()``); ``records``: the alerts, any order
    (``store.history()``), whose reports are linked when their files are in ``folder``.
    ``now`` (epoch seconds) is the page's "written at", default the current time.
    Raises ``OSError`` when the folder cannot be read or written, ``TypeError``/``ValueError``
    when a count, duration or time is not a number (nothing is written then).
    """
    folder = os.path.abspath(folder)
    existing: set[str] = set()
    if os.path.isdir(folder):  # else no report yet: the page says so, and makes the folder
        with os.scandir(folder) as entries:
            existing = {entry.name for entry in entries if entry.is_file(follow_symlinks=False)}
    page = render_index(summaries, records, existing, now)
    return write_atomically(folder, INDEX_FILENAME, encode_text(page))


def refresh_index(config: Config, store: AlertStore,
                  report_error: Callable[[str, BaseException], None]) -> None:
    """Rewrite the index page of ``config``'s folder from ``store``; called on the alert worker
    after each alert. Never raises: a failure goes to ``report_error`` (the monitor's error
    log) and the alerts go on. Nothing is written when local reports are off."""
    if not config.enable_local_file:
        return
    try:
        write_index(config.local_output_dir, store.endpoints(),
                    store.history(limit=HISTORY_LIMIT))
    except Exception as exc:
        report_error("writing the index page", exc)


# --- the page ---------------------------------------------------------------------------------

# Sorting and filtering, reading only the rows in the page. A constant: its hash in the policy
# never changes, and nothing of the data is ever inside it.
_SCRIPT = """(function(){
var table=document.getElementById('endpoints');if(!table)return;
var body=table.tBodies[0],heads=table.tHead.rows[0].cells;
var rows=Array.prototype.slice.call(body.rows);
var filter=document.getElementById('filter'),service=document.getElementById('service');
var shown=document.getElementById('shown'),none=document.getElementById('no-match');
function key(row,i){var c=row.cells[i],v=c.getAttribute('data-v');return v===null?c.textContent:v;}
function sort(i,dir){var num=heads[i].getAttribute('data-type')==='number';
rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
var r=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);return dir==='ascending'?r:-r;});
rows.forEach(function(r){body.appendChild(r);});
for(var j=0;j<heads.length;j++)heads[j].removeAttribute('aria-sort');
heads[i].setAttribute('aria-sort',dir);}
Array.prototype.forEach.call(heads,function(th,i){th.querySelector('button').addEventListener(
'click',function(){var now=th.getAttribute('aria-sort');
var dir=now?(now==='ascending'?'descending':'ascending'):
(th.getAttribute('data-type')==='number'?'descending':'ascending');sort(i,dir);});});
function apply(){var q=filter.value.trim().toLowerCase(),s=service?service.value:'',n=0;
rows.forEach(function(r){var text=(r.cells[0].textContent+' '+r.cells[1].textContent)
.toLowerCase();var ok=(!s||r.getAttribute('data-service')===s)&&(!q||text.indexOf(q)>=0);
r.hidden=!ok;if(ok)n++;});shown.textContent=String(n);none.hidden=n>0;}
filter.addEventListener('input',apply);if(service)service.addEventListener('change',apply);
apply();})();"""

_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
           f"script-src {_sha256(_SCRIPT)}")

_INDEX_CSS = """
.controls{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin:12px 0}
.controls input{flex:1;min-width:240px;max-width:480px}
.controls input,.controls select{font:inherit;padding:5px 8px;border:1px solid #c9ced8;
  border-radius:4px;background:#fff}
#endpoints th{width:auto;white-space:nowrap;padding:0}
#endpoints th button{font:inherit;font-weight:600;color:#5a6275;background:none;border:0;
  padding:6px 10px 6px 0;cursor:pointer;text-align:left}
#endpoints th button:hover{color:#1d2330}
#endpoints th[aria-sort=ascending] button::after{content:" \\25B2"}
#endpoints th[aria-sort=descending] button::after{content:" \\25BC"}
#endpoints td{padding:6px 10px 6px 0}
#endpoints td.num{white-space:nowrap;font-variant-numeric:tabular-nums}
#endpoints td.endpoint{font-family:ui-monospace,monospace;font-size:13px}
#endpoints tbody tr:hover{background:#f6f7f9}
details ul{margin:4px 0;padding-left:18px}a{color:#1f5fbf}
small{display:block}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _utc(timestamp: float, clock: str = "%H:%M:%S") -> str:
    """``2026-11-30 17:20:11`` (UTC, as the headings say)."""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime(f"%Y-%m-%d {clock}")


def _seconds(value: float) -> str:
    return f"{value:.3f} s"


def _anchor(name: str, text: str) -> str:
    return f"<a href=\"{_e(quote(name))}\">{_e(text)}</a>"


def _reports_cell(summary: EndpointSummary, records: list[AlertRecord],
                  existing: set[str]) -> str:
    """The latest report's link, and the endpoint's other alerts in a fold (newest first),
    each linked while its report is still in the folder."""
    latest = report_link(summary.latest_report, existing)
    earlier = [record for record in records if record.report != summary.latest_report
               or summary.latest_report is None]
    linked = (latest is not None) + sum(report_link(r.report, existing) is not None
                                        for r in earlier)
    parts = [_anchor(latest, "latest report") if latest is not None else
             "<span class=muted>" + ("report removed" if summary.latest_report else "no report")
             + "</span>"]
    if earlier:
        items = []
        for record in earlier:
            name = report_link(record.report, existing)
            label = _utc(record.at)
            shown = _anchor(name, label) if name is not None else _e(label)
            status = f", status {_e(record.status)}" if record.status is not None else ""
            gone = "" if name is not None else " <span class=muted>(report removed)</span>"
            items.append(f"<li>{shown} {_seconds(record.duration)}{status}{gone}</li>")
        parts.append(f"<details><summary>{len(earlier)} earlier</summary>"
                     f"<ul>{''.join(items)}</ul></details>")
    return f"<td data-v=\"{linked}\">{''.join(parts)}</td>"


def _number(value: float, shown: str) -> str:
    """A numeric cell: ``shown`` (markup, already escaped), sorted by ``value`` (a number, or
    ``ValueError``: nothing but a number reaches the attribute)."""
    return f"<td class=num data-v=\"{float(value)!r}\">{shown}</td>"


def _row(summary: EndpointSummary, records: list[AlertRecord], existing: set[str],
         now: float) -> str:
    held = str(int(summary.held_back))
    if summary.window_until is not None and summary.window_until > now:
        held += (f"<small class=muted>alerts again after "
                 f"{_e(_utc(summary.window_until, '%H:%M'))} UTC</small>")
    cells = [
        f"<td>{_e(summary.service)}</td>",
        f"<td class=endpoint>{_e(summary.endpoint)}</td>",
        _number(summary.alerts, str(int(summary.alerts))),
        _number(summary.held_back, held),
        _number(summary.last_duration, _seconds(summary.last_duration)),
        _number(summary.worst_duration, _seconds(summary.worst_duration)),
        _number(summary.last_seen, _e(_utc(summary.last_seen))),
        _reports_cell(summary, records, existing),
    ]
    return f"<tr data-service=\"{_e(summary.service)}\">{''.join(cells)}</tr>"


# (heading, sort type, tooltip)
_COLUMNS = (
    ("Service", "text", "the application (service_name)"),
    ("Endpoint", "text", "method and route"),
    ("Alerts", "number", "alerts kept (within report retention)"),
    ("Held back", "number", "slow requests not alerted: the endpoint had alerted within "
                            "alert_window_days"),
    ("Last", "number", "duration of the most recent slow request"),
    ("Worst", "number", "the longest slow request"),
    ("Last seen (UTC)", "number", "when the most recent slow request started"),
    ("Reports", "number", "sorted by how many reports are still in the folder"),
)


def _services_select(services: Iterable[str]) -> str:
    names = sorted(set(services))
    if len(names) < 2:
        return ""
    options = "".join(f"<option value=\"{_e(name)}\">{_e(name or '(unnamed)')}</option>"
                      for name in names)
    return (f"<select id=service aria-label=Service><option value=\"\">all services</option>"
            f"{options}</select>")


def render_index(summaries: Sequence[EndpointSummary], records: Sequence[AlertRecord],
                 existing: set[str], now: float | None = None) -> str:
    """The whole page: rows newest first (by ``last_seen``); links only to names in
    ``existing`` (see ``report_link``). Every value from the store is escaped."""
    moment = datetime.now(timezone.utc).timestamp() if now is None else now
    grouped: dict[tuple[str, str], list[AlertRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.at, reverse=True):
        grouped[(record.service, record.endpoint)].append(record)
    ordered = sorted(summaries, key=lambda s: s.last_seen, reverse=True)
    services = {s.service for s in ordered}
    alerts = sum(s.alerts for s in ordered)
    facts = (f"{len(ordered)} endpoint{'s' * (len(ordered) != 1)} in {len(services)} "
             f"service{'s' * (len(services) != 1)}, {alerts} alert{'s' * (alerts != 1)}; "
             f"written {_utc(moment)} UTC")
    if ordered:
        heads = "".join(f"<th data-type={kind} title=\"{_e(tip)}\""
                        f"{' aria-sort=descending' if name.startswith('Last seen') else ''}>"
                        f"<button type=button>{_e(name)}</button></th>"
                        for name, kind, tip in _COLUMNS)
        rows = "".join(_row(s, grouped.get((s.service, s.endpoint), []), existing, moment)
                       for s in ordered)
        content = (
            "<div class=controls><input id=filter type=search "
            "placeholder='Filter by service or endpoint' aria-label='Filter'>"
            f"{_services_select(services)}<span class=muted><span id=shown>{len(ordered)}"
            f"</span> of {len(ordered)} shown</span></div>"
            f"<table id=endpoints><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>"
            "<p id=no-match class=muted hidden>No endpoint matches the filter.</p>"
        )
    else:
        content = ("<p class=muted>No slow requests yet. A row appears here after an "
                   "endpoint's first alert.</p>")
    title = "Slow endpoints"
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<meta http-equiv=Content-Security-Policy content=\"{_POLICY}\">"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{title}</title><style>{_CSS}{_INDEX_CSS}</style></head><body>"
        f"<header><h1>{title}</h1><p>web-performance-monitor: {_e(facts)}</p></header>"
        f"<main><section>{content}</section></main>"
        f"<script>{_SCRIPT}</script></body></html>"
    )
