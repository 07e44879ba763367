"""One alert per endpoint per window: atomic claims in memory, SQLite (many processes) and Redis."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from web_performance_monitor.store import (
    AlertStore,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    open_store,
)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertStore]:
    if request.param == "memory":
        made: AlertStore = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(str(tmp_path / "alerts.db"))
    else:
        url = request.getfixturevalue("redis_url")
        made = RedisStore(url, prefix=f"wpm-test-{time.monotonic_ns()}:")
    yield made
    made.close()


def test_claim_once_per_window(store: AlertStore) -> None:
    first = store.claim("GET /a", 60)
    assert first is not None and first.suppressed_before == 0
    assert store.claim("GET /a", 60) is None
    assert store.claim("GET /b", 60) is not None


def test_suppressed_requests_are_reported_by_the_next_claim(store: AlertStore) -> None:
    assert store.claim("GET /a", 0.2) is not None
    store.suppress("GET /a")
    store.suppress("GET /a")
    time.sleep(0.25)
    claim = store.claim("GET /a", 0.2)
    assert claim is not None and claim.suppressed_before == 2
    assert store.claim("GET /a", 60) is None  # (a long window: a slow disk cannot expire it)


def test_release_reopens_the_window_and_keeps_counts(store: AlertStore) -> None:
    claim = store.claim("GET /a", 60)
    assert claim is not None
    store.suppress("GET /a")
    store.release(claim)
    again = store.claim("GET /a", 60)
    assert again is not None
    assert again.suppressed_before == 2  # the suppressed one and the failed alert itself


def test_release_by_a_stale_claim_does_nothing(store: AlertStore) -> None:
    old = store.claim("GET /a", 0.1)
    assert old is not None
    time.sleep(0.15)
    new = store.claim("GET /a", 60)
    assert new is not None
    store.release(old)
    assert store.claim("GET /a", 60) is None


def _claim_many(path: str, endpoints: int, barrier: object, results: object) -> None:
    store = SQLiteStore(path)
    barrier.wait()  # type: ignore[attr-defined]
    try:
        won: int | str = sum(store.claim(f"GET /e{i}", 3600) is not None
                             for i in range(endpoints))
    except Exception as exc:  # reported to the parent instead of a silent hang
        won = repr(exc)
    results.put(won)  # type: ignore[attr-defined]


def test_sqlite_claims_are_atomic_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "alerts.db")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(6), context.Queue()
    procs = [context.Process(target=_claim_many, args=(path, 50, barrier, results))
             for _ in range(6)]
    for proc in procs:
        proc.start()
    wins = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert all(isinstance(w, int) for w in wins), wins  # a fresh file, six processes at once
    assert sum(wins) == 50  # every endpoint claimed exactly once, none lost, none twice


def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "alerts.db")
    first = SQLiteStore(path)
    assert first.claim("GET /a", 3600) is not None
    first.close()
    assert SQLiteStore(path).claim("GET /a", 3600) is None


@pytest.mark.parametrize("url, kind", [
    (None, SQLiteStore), ("memory://", MemoryStore), ("sqlite:///tmp/x/alerts.db", SQLiteStore),
])
def test_open_store(url: str | None, kind: Callable[..., AlertStore], tmp_path: Path) -> None:
    store = open_store(url, str(tmp_path))
    assert isinstance(store, kind)
    if url is None:
        assert isinstance(store, SQLiteStore) and store.path.startswith(str(tmp_path))


def test_open_store_redis(redis_url: str) -> None:
    store = open_store(redis_url, "/tmp")
    assert isinstance(store, RedisStore)
    store.close()


def test_monitor_deduplicates_through_redis(redis_url: str, tmp_path: Path) -> None:
    """Two monitors (two hosts) sharing one Redis: one alert for one endpoint."""
    from werkzeug.test import Client

    from tests.conftest import RecordingNotifier
    from tests.core.wsgi_apps import slow_app
    from web_performance_monitor import Config, PerformanceMonitor

    recorder = RecordingNotifier()
    monitors = [PerformanceMonitor(Config(threshold_seconds=0.05, alert_store_url=redis_url,
                                          local_output_dir=str(tmp_path / f"host{i}")))
                for i in range(2)]
    try:
        for monitor in monitors:
            monitor.add_notifier(recorder)
            Client(monitor.create_middleware()(slow_app)).get(f"/redis-dedup/{_letters(time.time_ns())}",
                                                             headers={"X-Request-ID": "r"})
        for monitor in monitors:
            monitor.flush()
        endpoints = [a.event.endpoint for a in recorder.alerts]
        assert len(endpoints) == 2  # paths differ by name: two endpoints, each alerted once
        Client(monitors[0].create_middleware()(slow_app)).get(endpoints[1].split(" ", 1)[1])
        monitors[0].flush()
        assert len(recorder.alerts) == 2  # host 0 sees host 1's claim in Redis
    finally:
        for monitor in monitors:
            monitor.close()


def _letters(number: int) -> str:
    """A path segment unique to this run that reads as a name (a number would be ``{id}``)."""
    return "".join("abcdefghij"[int(d)] for d in str(number))
