"""The report and the message say why it was slow, first; the facts are there as JSON (issue 15).

The requests here run real SQLite queries and record them the way the SQL hooks do
(``capture.context.current()``), so the whole path runs: capture on the request path,
diagnosis, rendering and delivery on the worker.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

from tests.conftest import RecordingNotifier, busy
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.capture import Captured
from web_performance_monitor.capture.context import Call, Query, app_site, current
from web_performance_monitor.events import Alert, SlowEvent
from web_performance_monitor.masking import Masker
from web_performance_monitor.report import build_alert

EVENT_JSON = re.compile(r"<script type=application/json id=wpm-event>(.*?)</script>", re.S)


def event_json(alert: Alert) -> dict[str, Any]:
    [data] = EVENT_JSON.findall(alert.html)
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def run_query(db: sqlite3.Connection, statement: str, parameters: tuple[Any, ...] = (),
              latency: float = 0.0) -> Any:
    """Run ``statement`` and record it as the SQL hooks do (site: the caller's line);
    ``latency``: the seconds a database server over the network would add."""
    start = time.perf_counter()
    rows = db.execute(statement, parameters).fetchall()
    time.sleep(latency)
    captured = current()
    if captured is not None:
        captured.add_query(Query(statement, start, time.perf_counter() - start, "default",
                                 "sqlite", app_site(sys._getframe(1)), parameters=parameters))
    return rows


def shop_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT)")
    db.execute("CREATE TABLE review (id INTEGER PRIMARY KEY, product_id INT, stars INT)")
    db.executemany("INSERT INTO product VALUES (?, ?)", [(i, f"p{i}") for i in range(40)])
    db.executemany("INSERT INTO review (product_id, stars) VALUES (?, ?)",
                   [(i % 40, i % 5) for i in range(400)])
    db.execute("CREATE TABLE users (name TEXT, password TEXT)")
    return db


def n_plus_one_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    db = shop_db()
    run_query(db, "SELECT * FROM users WHERE password = 'hunter2'")
    products = run_query(db, "SELECT id, name FROM product")
    for product_id, _ in products:
        run_query(db, "SELECT id, product_id, stars FROM review WHERE product_id = ?",
                  (product_id,), latency=0.005)
    busy(0.1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def alert(make_monitor: Callable[..., PerformanceMonitor],
          recorder: RecordingNotifier) -> Alert:
    monitor = make_monitor(service_name="shop")
    monitor.add_notifier(recorder)
    response = Client(monitor.create_middleware()(n_plus_one_app)).get("/products?page=1")
    assert response.status_code == 200
    assert monitor.flush(10)
    [alert] = recorder.alerts
    return alert


def test_the_headline_comes_first_in_the_report_and_the_message(alert: Alert) -> None:
    line = n_plus_one_app.__code__.co_firstlineno + 5  # the loop's query
    assert re.fullmatch(
        r"\d+\.\d\d s: \d+\.\d\d s in 42 SQL queries \(N\+1: `SELECT id, product_id, stars "
        rf"FROM review WHERE product_id = \?` ×40 at `core/test_report_diagnosis.py:{line}`\), "
        r"\d+\.\d\d s in Python at `tests/conftest.py:\d+`", alert.headline)  # in ``busy``
    assert alert.message.splitlines()[0] == alert.headline
    header = alert.html.split("<main>", 1)[0]
    assert "N+1: <code>SELECT id, product_id, stars FROM review WHERE product_id = ?</code>" \
        in header
    assert alert.html.index("class=headline") < alert.html.index("<h2>Summary</h2>")


def test_the_report_shows_the_queries_table_service_and_utc(alert: Alert) -> None:
    page = alert.html
    assert "<span class=flag>N+1</span><code>SELECT id, product_id, stars FROM review " in page
    assert "Slow request: GET /products (shop)" in page
    assert alert.title == "Slow request: GET /products (shop)"
    assert alert.filename.startswith("wpm_shop_GET-products_")
    shown = page.split("<script type=application/json", 1)[0]
    assert " UTC" in shown and "+00:00" not in shown  # one zone, labelled
    tree = page.split("<h2>Call tree</h2>", 1)[1].split("</pre>", 1)[0]
    assert "Recorded:" not in tree  # pyinstrument's header, in the server's local time
    assert "duplicates: 0" in page  # parameters of the N+1 differ (captured here)


def test_a_secret_in_sql_text_reaches_no_report_message_or_json(alert: Alert) -> None:
    for text in (alert.html, alert.message, alert.headline, json.dumps(alert.facts)):
        assert "hunter2" not in text
    assert "SELECT * FROM users WHERE password = ?" in alert.html


def test_the_facts_json_parses_and_matches_the_alert(alert: Alert) -> None:
    facts = event_json(alert)
    assert facts == json.loads(json.dumps(alert.facts))
    assert facts["service"] == "shop" and facts["endpoint"] == "GET /products"
    assert facts["headline"] == alert.headline
    assert facts["report"] == alert.filename
    assert facts["started_at"].endswith("+00:00")
    assert facts["queries"]["count"] == 42
    [n_plus_one] = facts["queries"]["n_plus_one"]
    assert n_plus_one["count"] == 40 and n_plus_one["site"]["function"] == "n_plus_one_app"
    assert facts["time"]["sql_seconds"] > 0.1
    assert facts["hot_lines"] and facts["hot_lines"][0]["file"].endswith(".py")
    policy = re.search(r"Content-Security-Policy content=\"([^\"]*)\"", alert.html)
    assert policy is not None and "default-src &#x27;none&#x27;" in policy.group(1)


def test_cpu_time_is_shown_for_a_thread_and_never_as_zero(alert: Alert) -> None:
    assert alert.event.profile is not None and alert.event.profile.cpu is not None
    cpu, over = alert.event.profile.cpu
    assert 0 < cpu <= over
    assert "CPU time of its thread" in alert.html
    assert "CPU time: 0.000" not in alert.html  # pyinstrument's header, not the thread's
    assert ".metrics{display:none}" in alert.html  # nor the viewer's "CPU utilization"


def test_an_async_request_shows_no_cpu_time(make_monitor: Callable[..., PerformanceMonitor],
                                            recorder: RecordingNotifier) -> None:
    monitor = make_monitor()
    monitor.add_notifier(recorder)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0.1)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def call() -> None:
        transport = httpx.ASGITransport(app=monitor.create_asgi_middleware()(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get("/wait")

    asyncio.run(call())
    assert monitor.flush(10)
    [alert] = recorder.alerts
    assert alert.event.profile is not None and alert.event.profile.cpu is None
    assert "CPU time" not in alert.html
    assert "in Python" in alert.headline or "waiting" in alert.headline


def sleepy_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    time.sleep(0.3)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_time_blocked_in_a_c_call_is_waiting_on_that_line(monitor: PerformanceMonitor,
                                                          recorder: RecordingNotifier) -> None:
    Client(monitor.create_middleware()(sleepy_app)).get("/sleep")
    assert monitor.flush(10)
    [alert] = recorder.alerts
    line = sleepy_app.__code__.co_firstlineno + 1
    assert alert.headline.endswith(f"s waiting at `core/test_report_diagnosis.py:{line}`"), \
        alert.headline
    assert alert.hot_frames[0][0] == \
        f"[waiting] in sleepy_app (core/test_report_diagnosis.py:{line})"
    assert "[self]" not in alert.message


def short_sleeps_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    for n in range(80):  # a loop of short waits (2-6 ms, as I/O varies) with a little work
        time.sleep(0.002 + n % 5 * 0.001)
        busy(0.001)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_a_loop_of_short_sleeps_is_waiting_not_python(monitor: PerformanceMonitor,
                                                      recorder: RecordingNotifier) -> None:
    Client(monitor.create_middleware()(short_sleeps_app)).get("/naps")
    assert monitor.flush(10)
    [alert] = recorder.alerts
    line = short_sleeps_app.__code__.co_firstlineno + 2
    assert alert.hot_frames[0][0] == \
        f"[waiting] in short_sleeps_app (core/test_report_diagnosis.py:{line})", alert.hot_frames


def event_with(captured: Captured) -> SlowEvent:
    return SlowEvent(kind="request", endpoint="GET /orders", duration=9.0, threshold=1.0,
                     started_at=time.time(), pid=1, thread="MainThread", status=200,
                     captured=captured, service="shop", framework="Flask 3.1.3")


def test_queries_not_kept_are_counted_in_the_report() -> None:
    captured = Captured(limit=1000)
    for _ in range(5000):
        captured.add_query(Query("SELECT * FROM t WHERE id = %s", 0.0, 0.0005, "default",
                                 "sqlite", ("/srv/app/views.py", "orders", 9)))
    alert = build_alert(event_with(captured), Masker(), [], 0)
    assert "1,000 kept, 4,000 more not kept: 2.000 s" in alert.html
    assert alert.facts["queries"]["not_kept"] == 4000
    assert "framework</th><td>Flask 3.1.3" in alert.html


def test_a_secret_in_an_outgoing_url_reaches_no_report_message_or_json() -> None:
    captured = Captured()
    captured.add_call(Call("GET", "https://svc:pa55word@api.example.com/v1/users/42?"
                           "api_key=S3CRET-KEY&page=2", 0.0, 2.0, "requests",
                           ("/srv/app/views.py", "orders", 12), 200))
    alert = build_alert(event_with(captured), Masker(), [], 0)
    for text in (alert.html, alert.message, json.dumps(alert.facts)):
        assert "S3CRET-KEY" not in text and "pa55word" not in text
    assert "GET https://api.example.com/v1/users/{id}?…" in alert.headline
