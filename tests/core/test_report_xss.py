"""Reports that cannot run code: code and file names that are markup stay text (issue 14).

pyinstrument embedded its JSON in a <script> as is, so a function named
``</script><img src=x onerror=...>`` ended the script and ran, and the iframe's
``sandbox="allow-scripts allow-same-origin"`` let it reach the report page itself.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from tests.browser import CHROMIUM, Elements, needs_chromium
from tests.conftest import RecordingNotifier, busy, functions_in
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.capture import Captured
from web_performance_monitor.capture.context import Call, Query
from web_performance_monitor.events import Alert
from web_performance_monitor.masking import Masker
from web_performance_monitor.report import build_alert

PAYLOAD = ("</script><img src=x onerror=console.log('PWNED');"
           "parent.document.body.setAttribute('data-pwned','yes')>")


def hostile_work() -> None:
    busy(0.3)


# A code object can carry any name; a file name is whatever the loader was given.
hostile_work.__code__ = hostile_work.__code__.replace(co_name=PAYLOAD,
                                                      co_filename=f"/srv/{PAYLOAD}.py")


def hostile_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    hostile_work()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def alert(monitor: PerformanceMonitor, recorder: RecordingNotifier) -> Alert:
    Client(monitor.create_middleware()(hostile_app)).get("/x")
    assert monitor.flush(10)
    [alert] = recorder.alerts
    assert PAYLOAD in functions_in(alert)  # the profile did record the hostile name
    return alert


def interactive_page(alert: Alert) -> str:
    srcdoc = Elements(alert.html).first("iframe")["srcdoc"]
    assert srcdoc is not None
    return srcdoc


def test_names_stay_text_in_the_report(alert: Alert) -> None:
    report = Elements(alert.html)
    assert "img" not in report.tags()
    assert report.first("iframe")["sandbox"] == "allow-scripts"  # no allow-same-origin
    page = Elements(interactive_page(alert))
    assert page.tags() == {"html", "head", "meta", "style", "body", "div", "script"}
    assert [tag for tag, _ in page.elements].count("script") == 3
    [policy] = [attrs["content"] or "" for tag, attrs in page.elements
                if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy.split("script-src")[1]


def chromium(url: str) -> tuple[Elements, str]:
    """The DOM after the page's scripts ran, and the browser's console lines."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    console = "\n".join(line for line in done.stderr.splitlines() if "CONSOLE" in line)
    return Elements(done.stdout), console


@needs_chromium
def test_opening_the_report_runs_nothing(alert: Alert, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(alert.html, encoding="utf-8")
    dom, console = chromium(report.as_uri())
    assert "data-pwned" not in dom.first("body")
    assert "PWNED" not in console
    assert "Uncaught" not in console


@pytest.fixture
def serve_sandboxed(alert: Alert) -> Iterator[str]:
    """The interactive page on 127.0.0.1 under ``Content-Security-Policy: sandbox allow-scripts``:
    an opaque origin without storage, as in the report's iframe, but readable by --dump-dom."""
    page = interactive_page(alert).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", "sandbox allow-scripts")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@needs_chromium
def test_the_interactive_profile_renders_in_its_sandbox(serve_sandboxed: str) -> None:
    dom, console = chromium(serve_sandboxed)
    assert "Uncaught" not in console and "PWNED" not in console
    assert "img" not in dom.tags()
    shown = "".join(dom.text)
    assert "busy" in shown and PAYLOAD in shown  # drawn by the viewer, as text


# --- what the diagnosis shows: statements, URLs, call sites ----------------------------------

def hostile_captures() -> Captured:
    """Queries and calls whose every shown part is markup (an identifier, a URL, a site)."""
    site = (f"/srv/{PAYLOAD}.py", PAYLOAD, 3)
    captured = Captured()
    for _ in range(6):
        captured.add_query(Query(f'SELECT "{PAYLOAD}" FROM "`t`" WHERE x = 1', 0.0, 0.05,
                                 "default", "sqlite", site))
    captured.add_call(Call("GET", f"http://api.example/{PAYLOAD}?q={PAYLOAD}", 0.0, 0.1,
                           "httpx", site, 200))
    return captured


@pytest.fixture
def diagnosed(alert: Alert) -> Alert:
    """The hostile profile's event again, now with hostile queries and calls."""
    event = alert.event
    event.captured = hostile_captures()
    event.service = PAYLOAD
    event.framework = PAYLOAD
    return build_alert(event, Masker(), [], 0)


def test_statements_urls_and_sites_stay_text(diagnosed: Alert) -> None:
    report = Elements(diagnosed.html)
    assert "img" not in report.tags()
    assert [tag for tag, _ in report.elements].count("script") == 1  # the JSON data block
    text = "".join(report.text)
    assert f'"{PAYLOAD}"' in text  # the identifier, shown as text
    data = diagnosed.html.split("id=wpm-event>", 1)[1].removesuffix("</script></body></html>")
    assert "<" not in data and ">" not in data  # nothing can end the script element
    facts = json.loads(data)
    assert facts["service"] == PAYLOAD and PAYLOAD in facts["queries"]["groups"][0]["statement"]


def test_the_message_keeps_code_spans_closed(diagnosed: Alert) -> None:
    first = diagnosed.message.splitlines()[0]
    assert first == diagnosed.headline
    assert first.count("`") % 2 == 0  # the hostile backticks were dropped, spans stay closed
    assert "N+1" in first


@needs_chromium
def test_opening_a_report_with_hostile_queries_runs_nothing(diagnosed: Alert,
                                                           tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(diagnosed.html, encoding="utf-8")
    dom, console = chromium(report.as_uri())
    assert "data-pwned" not in dom.first("body")
    assert "PWNED" not in console and "Uncaught" not in console
    assert "img" not in dom.tags()
