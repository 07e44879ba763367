"""What the store remembers per service and endpoint: alerts, held-back requests, open windows;
the same in memory, SQLite and Redis, bounded by the report retention."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from tests.core.wsgi_apps import slow_app
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.history import AlertRecord, HeldBack
from web_performance_monitor.store import (
    DAY,
    AlertStore,
    FailoverStore,
    MemoryStore,
    RedisStore,
    Retention,
    SQLiteStore,
    open_store,
)

MakeStore = Callable[..., AlertStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """Stores of one kind, with the retention a test asks for."""
    made: list[AlertStore] = []

    def make(retention: Retention | None = None) -> AlertStore:
        retention = retention or Retention()
        store: AlertStore
        if request.param == "memory":
            store = MemoryStore(retention)
        elif request.param == "sqlite":
            store = SQLiteStore(str(tmp_path / "alerts.db"), retention)
        else:
            store = RedisStore(request.getfixturevalue("redis_url"),
                               prefix=f"wpm-history-{time.monotonic_ns()}:", retention=retention)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> AlertStore:
    return make_store()


def alert(endpoint: str = "GET /a", service: str = "shop", at: float | None = None,
          duration: float = 1.5, report: str | None = "report.html") -> AlertRecord:
    return AlertRecord(service=service, endpoint=endpoint,
                       at=time.time() if at is None else at, duration=duration, status=200,
                       report=report, trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
                       host="web-1", pid=42)


def test_two_services_with_the_same_endpoint_each_alert(store: AlertStore) -> None:
    assert store.claim("GET /slow", 60, service="shop") is not None
    assert store.claim("GET /slow", 60, service="blog") is not None
    assert store.claim("GET /slow", 60, service="shop") is None
    store.suppress("GET /slow", service="shop", duration=2.0)
    assert {(w.service, w.held_back) for w in store.windows()} == {("shop", 1), ("blog", 0)}


def test_history_is_newest_first_and_filtered(store: AlertStore) -> None:
    now = time.time()
    records = [alert("GET /a", "shop", now - 30), alert("GET /b", "shop", now - 20),
               alert("GET /a", "blog", now - 10), alert("GET /a", "shop", now)]
    for record in records:
        store.record(record)
    assert store.history() == records[::-1]
    assert store.history(service="shop", endpoint="GET /a") == [records[3], records[0]]
    assert store.history(since=now - 15) == [records[3], records[2]]
    assert store.history(limit=1) == [records[3]]


def test_held_back_requests_are_counted_with_their_durations(store: AlertStore) -> None:
    now = time.time()
    assert store.claim("GET /a", 60, service="shop") is not None
    store.suppress("GET /a", service="shop", duration=2.5, at=now - 5)
    store.suppress("GET /a", 2, service="shop", duration=1.25, at=now)
    assert store.held() == [HeldBack("shop", "GET /a", 3, 2.5, 1.25, now)]
    assert store.held(service="blog") == []


def test_endpoints_summarise_alerts_held_back_requests_and_windows(store: AlertStore) -> None:
    now = time.time()
    claim = store.claim("GET /a", 60, service="shop")
    assert claim is not None
    store.record(alert("GET /a", at=now - 100, duration=3.0, report="old.html"))
    store.record(alert("GET /a", at=now - 50, duration=1.5, report="new.html"))
    store.suppress("GET /a", service="shop", duration=2.0, at=now - 10)
    store.record(alert("GET /b", at=now - 200, duration=1.1, report=None))
    a, b = store.endpoints()
    assert (a.service, a.endpoint, a.alerts, a.held_back) == ("shop", "GET /a", 2, 1)
    assert (a.last_duration, a.worst_duration, a.last_seen) == (2.0, 3.0, now - 10)
    assert a.latest_report == "new.html"
    assert a.window_until is not None and now + 59 < a.window_until <= now + 61
    assert (b.endpoint, b.alerts, b.held_back, b.latest_report, b.window_until) == (
        "GET /b", 1, 0, None, None)
    assert store.endpoints(service="blog") == []


def test_reset_window_lets_the_endpoint_alert_again_and_keeps_its_count(
        store: AlertStore) -> None:
    for service in ("shop", "blog"):
        assert store.claim("GET /a", 3600, service=service) is not None
    assert store.claim("GET /b", 3600, service="shop") is not None
    store.suppress("GET /a", service="shop", duration=2.0)
    assert store.reset_window(service="shop", endpoint="GET /a") == 1
    assert store.reset_window(service="shop", endpoint="GET /a") == 0  # none open any more
    assert [(w.service, w.endpoint) for w in store.windows(service="shop")] == [
        ("shop", "GET /b")]
    again = store.claim("GET /a", 3600, service="shop")
    assert again is not None and again.suppressed_before == 1  # told in the next alert
    assert store.claim("GET /a", 3600, service="blog") is None  # the other app's stays
    assert store.reset_window() == 3  # all of them


def test_retention_bounds_the_history_by_count(make_store: MakeStore) -> None:
    store = make_store(Retention(history_count=3))
    now = time.time()
    records = [alert(f"GET /{i}", at=now - 10 + i) for i in range(5)]
    for record in records:
        store.record(record)
    assert store.history() == records[:1:-1]  # the newest three


def test_retention_bounds_the_history_by_age_and_prune_says_how_many_went(
        make_store: MakeStore) -> None:
    store = make_store(Retention(history_days=1))
    now = time.time()
    store.record(alert("GET /new", at=now - 3600))
    store.record(alert("GET /old", at=now - 0.5 * DAY))
    assert store.prune(now + 0.75 * DAY) == 1  # 18 hours later: /old is past a day
    assert [r.endpoint for r in store.history()] == ["GET /new"]
    assert store.prune(now + 0.75 * DAY) == 0


def test_a_version_1_sqlite_store_is_migrated_with_its_windows(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "alerts.db"
    conn = sqlite3.connect(path)
    conn.execute(SQLiteStore._SCHEMA_V1[0])
    conn.execute("INSERT INTO wpm_alerts VALUES ('GET /a', 1e12, 't', 2, 0)")
    conn.execute(f"PRAGMA application_id = {SQLiteStore.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    caplog.set_level(logging.INFO, "web_performance_monitor")
    store = SQLiteStore(str(path))
    assert store.claim("GET /a", 60) is None  # its window still holds
    assert [(w.service, w.endpoint, w.held_back) for w in store.windows()] == [
        ("", "GET /a", 2)]
    store.record(alert())
    store.close()
    assert list(tmp_path.glob("*.foreign-*")) == []
    assert "migrated" in caplog.text
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SQLiteStore.USER_VERSION,)
    conn.close()
    assert len(SQLiteStore(str(path)).history()) == 1  # reopened as ours, not moved aside


def test_during_an_outage_reads_answer_from_the_stand_in_and_alerts_are_merged_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FailoverStore, "retry_seconds", 0.1)
    errors: list[str] = []
    sqlite = SQLiteStore(str(tmp_path / "alerts.db"))
    store = FailoverStore(sqlite, str(tmp_path / "stand-in"),
                          lambda what, exc: errors.append(what))
    store.record(alert("GET /before"))
    assert not store.degraded

    def disk_error(self: SQLiteStore) -> sqlite3.Connection:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as outage:
        outage.setattr(SQLiteStore, "_connection", disk_error)
        store.record(alert("GET /during"))
        assert store.degraded and errors == ["using the alert store"]
        assert [r.endpoint for r in store.history()] == ["GET /during"]  # this process's only
    time.sleep(0.15)
    assert [r.endpoint for r in store.history()] == ["GET /during", "GET /before"]
    assert not store.degraded
    store.close()


def slow_request(monitor: PerformanceMonitor, path: str) -> None:
    Client(monitor.create_middleware()(slow_app)).get(path)


def test_two_apps_sharing_a_store_each_alert_and_keep_their_own_history(
        make_monitor: Callable[..., PerformanceMonitor], report_dir: Path,
        store_url: str | None) -> None:
    """Issue 16: a plain WSGI app's GET /slow was silenced by another app's GET /slow."""
    shop = make_monitor(service_name="shop", alert_store_url=store_url)
    blog = make_monitor(service_name="blog", alert_store_url=store_url)
    for monitor in (shop, blog, shop):
        slow_request(monitor, "/slow")
        monitor.flush()
    assert shop.get_stats()["alerts_sent"] == 1 and blog.get_stats()["alerts_sent"] == 1
    store = open_store(store_url, str(report_dir))
    records = store.history()
    assert [(r.service, r.endpoint) for r in records] == [("blog", "GET /slow"),
                                                          ("shop", "GET /slow")]
    for record in records:
        assert record.report is not None and (report_dir / record.report).is_file()
        assert record.status == 201 and record.duration > 0.05
    [held] = store.held()
    assert (held.service, held.count) == ("shop", 1) and held.max_duration > 0.05
    store.close()
