"""The report folder's index page (issue 16): every endpoint's alerts on one page, newest first,
sortable and filterable in the browser, linking only to the folder's own report files, and
inert whatever a service or endpoint is called."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from tests.browser import Browser, Elements, chromium_tab, needs_chromium
from tests.conftest import RecordingNotifier, busy
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.history import AlertRecord, EndpointSummary
from web_performance_monitor.index import report_link, write_index
from web_performance_monitor.report import report_filename

NOW = 1_790_000_000.0
HOUR = 3600.0
PAYLOAD = ("</script><img src=x onerror=console.log('PWNED');"
           "document.body.setAttribute('data-pwned','yes')>")

# (service, endpoint, [(hours ago, seconds)] newest first, held back, window open for hours)
HISTORY = [
    ("shop", "GET /products/<int:pid>", [(1, 1.8), (26, 2.6), (50, 1.2)], 12, 200),
    ("shop", "POST /checkout", [(5, 3.4), (29, 2.1)], 0, 100),
    ("billing", "GET /invoices/{id}", [(0.2, 1.1), (72, 4.2), (144, 1.5), (216, 1.3)], 3, None),
]
NEWEST_FIRST = ["GET /invoices/{id}", "GET /products/<int:pid>", "POST /checkout"]


@dataclass
class Alerts:
    """What the store would return for ``HISTORY``, with the report files in ``folder``."""

    folder: Path
    summaries: list[EndpointSummary] = field(default_factory=list)
    records: list[AlertRecord] = field(default_factory=list)

    def write(self) -> Path:
        return Path(write_index(str(self.folder), self.summaries, self.records, now=NOW))


@pytest.fixture
def alerts(tmp_path: Path) -> Alerts:
    """3 endpoints of 2 services, 9 alerts; the oldest report was pruned from the folder."""
    found = Alerts(tmp_path / "reports")
    found.folder.mkdir()
    for service, endpoint, alerts, held_back, window in HISTORY:
        records = []
        for hours, seconds in alerts:
            at = NOW - hours * HOUR
            name = report_filename(endpoint, at)
            (found.folder / name).write_text(f"<title>{seconds}</title>", encoding="utf-8")
            records.append(AlertRecord(service, endpoint, at, seconds, 200, name, None,
                                       "web-1", 4242))
        found.records.extend(records)
        found.summaries.append(EndpointSummary(
            service, endpoint, len(records), held_back, records[0].duration,
            max(r.duration for r in records), records[0].at, records[0].report,
            None if window is None else NOW + window * HOUR))
    oldest = found.records[-1].report
    assert oldest is not None
    (found.folder / oldest).unlink()
    return found


@dataclass
class Row:
    service: str = ""
    cells: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return self.cells[1]


class Table(HTMLParser):
    """The index table's body rows: each cell's text and each link's target."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self._in_body = self._in_cell = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append(Row(service=named.get("data-service") or ""))
        elif self._in_body and tag == "td":
            self.rows[-1].cells.append("")
            self._in_cell = True
        elif self._in_body and tag == "a":
            self.rows[-1].links.append(named["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.rows[-1].cells[-1] += data


def test_one_row_per_endpoint_newest_first(alerts: Alerts) -> None:
    rows = Table(alerts.write().read_text(encoding="utf-8")).rows
    assert [row.endpoint for row in rows] == NEWEST_FIRST
    assert [row.service for row in rows] == ["billing", "shop", "shop"]
    invoices, products, _ = rows
    # service, endpoint, alerts, held back, last, worst, last seen (UTC), reports
    assert invoices.cells[2:7] == ["4", "3", "1.100 s", "4.200 s", "2026-09-21 14:01:20"]
    assert products.cells[3] == "12alerts again after 2026-09-29 22:13 UTC"
    assert "3 earlier" in invoices.cells[7] and "(report removed)" in invoices.cells[7]


def test_every_link_opens_a_report_in_the_folder(alerts: Alerts) -> None:
    rows = Table(alerts.write().read_text(encoding="utf-8")).rows
    kept = {record.report for record in alerts.records if (alerts.folder / str(record.report))
            .exists()}
    links = [link for row in rows for link in row.links]
    assert len(links) == len(kept) == 8  # 9 alerts, one report pruned
    assert set(links) == kept
    for row in rows:  # the first link of a row is its latest report
        summary = next(s for s in alerts.summaries if s.endpoint == row.endpoint)
        assert row.links[0] == summary.latest_report


@pytest.mark.parametrize("name", [
    "../wpm_x.html", "/etc/wpm_x.html", "sub/wpm_x.html", "wpm_..html", "wpm_a.b.html",
    "index.html", "notes.txt", "javascript:alert(1)//wpm_x.html", "wpm_x.html\x00.txt",
    "wpm_x.htm", "",
])
def test_only_plain_report_names_are_linked(name: str) -> None:
    assert report_link(name, {name}) is None


def test_a_report_no_longer_in_the_folder_is_not_linked() -> None:
    name = report_filename("GET /a", NOW)
    assert report_link(name, {name}) == name
    assert report_link(name, set()) is None


def test_a_store_pointing_outside_the_folder_gets_no_link(alerts: Alerts) -> None:
    (alerts.folder / "secrets.txt").write_text("x", encoding="utf-8")
    outside = AlertRecord("shop", "POST /checkout", NOW, 9.0, 500, "../secrets.txt", None,
                          "web-1", 1)
    alerts.records.append(outside)
    rows = Table(alerts.write().read_text(encoding="utf-8")).rows
    assert not any("secrets" in link for row in rows for link in row.links)


HOSTILE = [PAYLOAD, "\"><svg onload=console.log('PWNED')>", "'><a href=javascript:1>x</a>"]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """An index whose services and endpoints are markup (names come from code and requests)."""
    records = [AlertRecord(name, f"GET /{name}", NOW - i, 2.0, 200, None, None, name, 1)
               for i, name in enumerate(HOSTILE)]
    summaries = [EndpointSummary(r.service, r.endpoint, 1, 0, 2.0, 2.0, r.at, None, None)
                 for r in records]
    return Path(write_index(str(tmp_path), summaries, records, now=NOW))


def test_hostile_names_stay_text(hostile: Path) -> None:
    page = hostile.read_text(encoding="utf-8")
    parsed = Elements(page)
    assert parsed.tags().isdisjoint({"img", "svg"})
    assert [tag for tag, _ in parsed.elements].count("script") == 1
    assert not any(tag == "a" for tag, _ in parsed.elements)  # no report: no link at all
    rows = Table(page).rows
    assert sorted(row.service for row in rows) == sorted(HOSTILE)
    assert sorted(row.cells[0] for row in rows) == sorted(HOSTILE)
    options = [attrs["value"] for tag, attrs in parsed.elements if tag == "option"]
    assert sorted(options) == sorted(["", *HOSTILE])


def test_a_count_that_is_not_a_number_never_reaches_the_page(tmp_path: Path) -> None:
    odd = EndpointSummary("shop", "GET /", "1 onmouseover=alert(1)", 0, 1.0, 1.0, NOW, None,
                          None)  # what a tampered store might return
    with pytest.raises((TypeError, ValueError)):  # refresh_index logs it; alerts go on
        write_index(str(tmp_path), [odd], [], now=NOW)
    assert not (tmp_path / "index.html").exists()


def test_only_the_embedded_script_may_run(hostile: Path) -> None:
    page = hostile.read_text(encoding="utf-8")
    [policy] = [attrs["content"] or "" for tag, attrs in Elements(page).elements
                if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert policy.endswith(f"script-src 'sha256-{digest}'")
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy.split("script-src")[1]


def test_before_any_alert_the_page_says_what_will_appear(tmp_path: Path) -> None:
    page = Path(write_index(str(tmp_path / "not-yet"), [], [], now=NOW))  # wpm open, day one
    text = page.read_text(encoding="utf-8")
    assert "No slow requests yet" in text and "<table" not in text


def test_the_page_is_written_atomically_and_private(alerts: Alerts) -> None:
    path = alerts.write()
    assert path == alerts.folder / "index.html"
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert not [p for p in alerts.folder.iterdir() if p.name.startswith(".")]  # no temp left


def test_a_planted_link_is_replaced_not_followed(alerts: Alerts, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.html"
    elsewhere.write_text("theirs", encoding="utf-8")
    (alerts.folder / "index.html").symlink_to(elsewhere)
    path = alerts.write()
    assert not path.is_symlink() and "Slow endpoints" in path.read_text(encoding="utf-8")
    assert elsewhere.read_text(encoding="utf-8") == "theirs"


# --- in a browser ------------------------------------------------------------------------------

VISIBLE = ("Array.from(document.querySelectorAll('#endpoints tbody tr'))"
           ".filter(function(r){return !r.hidden}).map(function(r){return r.cells[1].textContent})")


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium_tab() as tab:
        yield tab


@needs_chromium
def test_sorting_and_filtering_in_the_browser(alerts: Alerts, browser: Browser) -> None:
    browser.open(alerts.write().as_uri())
    assert browser.evaluate(VISIBLE) == NEWEST_FIRST
    worst = "#endpoints th:nth-child(6) button"
    browser.click(worst)  # a number column sorts largest first
    assert browser.evaluate(VISIBLE) == ["GET /invoices/{id}", "POST /checkout",
                                         "GET /products/<int:pid>"]
    browser.click(worst)  # again: the other way round
    assert browser.evaluate(VISIBLE) == ["GET /products/<int:pid>", "POST /checkout",
                                         "GET /invoices/{id}"]
    assert browser.evaluate("document.querySelector('#endpoints th:nth-child(6)')"
                            ".getAttribute('aria-sort')") == "ascending"
    browser.click("#endpoints th:nth-child(2) button")  # text: A to Z
    assert browser.evaluate(VISIBLE) == sorted(NEWEST_FIRST)

    browser.type("#filter", "CHECK")
    assert browser.evaluate(VISIBLE) == ["POST /checkout"]
    assert browser.evaluate("document.getElementById('shown').textContent") == "1"
    browser.type("#filter", "zzz")
    assert browser.evaluate(VISIBLE) == []
    assert browser.evaluate("document.getElementById('no-match').hidden") is False
    browser.type("#filter", "")
    assert browser.evaluate(VISIBLE) == sorted(NEWEST_FIRST)
    browser.evaluate("document.getElementById('service').focus()")
    browser.press("ArrowDown", 40)  # "all services" -> "billing"
    assert browser.evaluate(VISIBLE) == ["GET /invoices/{id}"]
    assert not [m for m in browser.messages if "Content Security Policy" in m
                or "Uncaught" in m]


@needs_chromium
def test_a_click_on_a_link_opens_the_report(alerts: Alerts, browser: Browser) -> None:
    browser.open(alerts.write().as_uri())
    browser.click("#endpoints tbody tr:first-child a")
    latest = alerts.summaries[2].latest_report  # billing's invoices: the newest row
    browser.wait_for(f"location.href.endsWith({latest!r})")
    assert browser.evaluate("document.title") == "1.1"


@needs_chromium
def test_hostile_names_run_nothing_in_the_browser(hostile: Path, browser: Browser) -> None:
    browser.open(hostile.as_uri())
    assert browser.evaluate("document.body.getAttribute('data-pwned')") is None
    assert browser.evaluate("document.querySelectorAll('img,svg').length") == 0
    assert browser.evaluate(VISIBLE) == [f"GET /{name}" for name in HOSTILE]
    assert not [m for m in browser.messages if "PWNED" in m or "Uncaught" in m]


# --- written by the monitor --------------------------------------------------------------------

# path -> (method, seconds it takes); ``/products/7`` is the endpoint ``GET /products/{id}``
SHOP = {"/products/7": ("GET", 0.08), "/checkout": ("POST", 0.12)}
BILLING = {"/invoices/9": ("GET", 0.1)}


def app_of(routes: dict[str, tuple[str, float]]) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        busy(routes[environ["PATH_INFO"]][1])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def serve(monitor: PerformanceMonitor, routes: dict[str, tuple[str, float]],
          times: int) -> None:
    client = Client(monitor.create_middleware()(app_of(routes)))
    for _ in range(times):
        for path, (method, _) in routes.items():
            client.open(path, method=method)
    assert monitor.flush(10)


@pytest.fixture
def shop_and_billing(make_monitor: Callable[..., PerformanceMonitor],
                     report_dir: Path) -> Path:
    """Two services alerting into one folder and its SQLite store, every slow request an alert
    (no window): 3 endpoints, 8 alerts. The folder's index page."""
    for service, routes, times in (("shop", SHOP, 3), ("billing", BILLING, 2)):
        monitor = make_monitor(alert_store_url=None, alert_window_days=0, service_name=service)
        serve(monitor, routes, times)
    return report_dir / "index.html"


def test_the_monitor_rewrites_the_index_after_each_alert(shop_and_billing: Path,
                                                          report_dir: Path) -> None:
    rows = Table(shop_and_billing.read_text(encoding="utf-8")).rows
    assert [(row.service, row.endpoint) for row in rows] == [
        ("billing", "GET /invoices/{id}"), ("shop", "POST /checkout"),
        ("shop", "GET /products/{id}")]
    assert [row.cells[2] for row in rows] == ["2", "3", "3"]
    reports = {p.name for p in report_dir.glob("wpm_*.html")}
    links = [link for row in rows for link in row.links]
    assert len(reports) == 8 and sorted(links) == sorted(reports)


def test_a_failing_index_write_leaves_alerts_flowing(make_monitor: Callable[...,
                                                     PerformanceMonitor], report_dir: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    (report_dir / "index.html").mkdir(parents=True)  # a folder where the page should go
    monitor = make_monitor(alert_store_url=None, alert_window_days=0, service_name="shop")
    serve(monitor, SHOP, 2)
    stats = monitor.get_stats()
    assert stats["alerts_sent"] == 4 and len(list(report_dir.glob("wpm_*.html"))) == 4
    assert stats["internal_errors"] == {"writing the index page": 4}
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "writing the index page failed: IsADirectoryError" in warning


def test_no_index_without_local_reports(make_monitor: Callable[..., PerformanceMonitor],
                                        recorder: RecordingNotifier, report_dir: Path) -> None:
    monitor = make_monitor(enable_local_file=False, alert_window_days=0)
    monitor.add_notifier(recorder)
    serve(monitor, SHOP, 1)
    assert len(recorder.alerts) == 2 and not (report_dir / "index.html").exists()


@needs_chromium
def test_from_the_index_to_a_report_and_back(shop_and_billing: Path, browser: Browser) -> None:
    browser.open(shop_and_billing.as_uri())
    browser.click("#endpoints tbody tr:first-child a")
    browser.wait_for("document.title.startsWith('Slow request: GET /invoices/{id}')")
    browser.click("header a")
    browser.wait_for(f"location.href === {json.dumps(shop_and_billing.as_uri())}")
    assert browser.evaluate(VISIBLE)[0] == "GET /invoices/{id}"
