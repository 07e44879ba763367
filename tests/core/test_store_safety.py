"""Alert stores that heal and cannot be hijacked; a private default folder; nothing kept forever."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from werkzeug.test import Client

from tests.conftest import RecordingNotifier, RedisServer
from tests.core.wsgi_apps import slow_app
from tests.servers import subprocess_env
from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.config import default_output_dir
from web_performance_monitor.files import UnsafePath
from web_performance_monitor.history import AlertRecord
from web_performance_monitor.store import FailoverStore, RedisStore, Retention, SQLiteStore

STORE_NAME = ".wpm-alerts.sqlite3"
root_only = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root: a file of another user is made with os.chown")


def slow_request(monitor: PerformanceMonitor, path: str = "/x") -> None:
    Client(monitor.create_middleware()(slow_app)).get(path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_foreign(path: Path, statements: list[str], app_id: int = 0) -> None:
    conn = sqlite3.connect(path)
    for sql in statements:
        conn.execute(sql)
    conn.execute(f"PRAGMA application_id = {app_id}")
    conn.commit()
    conn.close()


OUR_TABLE = ("CREATE TABLE wpm_alerts (endpoint TEXT PRIMARY KEY, expires_at REAL NOT NULL, "
             "token TEXT NOT NULL, suppressed INTEGER NOT NULL DEFAULT 0, "
             "reported INTEGER NOT NULL DEFAULT 0)")
FOREIGN = {
    "8 KB of random bytes": None,
    "another application's database": ["CREATE TABLE users (id INTEGER PRIMARY KEY)"],
    "our table with a trigger that drops inserts": [
        OUR_TABLE,
        "CREATE TRIGGER silence BEFORE INSERT ON wpm_alerts BEGIN SELECT RAISE(IGNORE); END",
    ],
    "our current tables with a trigger that drops alert records": [
        *SQLiteStore._SCHEMA,
        "CREATE TRIGGER silence BEFORE INSERT ON wpm_history BEGIN SELECT RAISE(IGNORE); END",
    ],
}


@pytest.mark.parametrize("kind", sorted(FOREIGN))
def test_a_foreign_store_file_is_moved_aside_and_recreated(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str) -> None:
    path = tmp_path / STORE_NAME
    statements = FOREIGN[kind]
    if statements is None:
        path.write_bytes(os.urandom(8192))
    else:  # even stamped with our application id, a foreign schema is refused
        make_foreign(path, statements, SQLiteStore.APPLICATION_ID)
    original = path.read_bytes()
    store = SQLiteStore(str(path))
    assert store.claim("GET /a", 3600) is not None
    assert SQLiteStore(str(path)).claim("GET /a", 3600) is None  # de-duplicates again
    [aside] = tmp_path.glob(f"{STORE_NAME}.foreign-*[0-9]")
    assert aside.read_bytes() == original  # kept for whoever wants to look
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "moved aside" in warnings[0].getMessage()
    store.close()


def test_a_random_bytes_store_heals_before_the_first_alert(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        report_dir: Path) -> None:
    """Issue 14: the in-memory fallback worked, but for good; now the file is replaced."""
    report_dir.mkdir()
    (report_dir / STORE_NAME).write_bytes(os.urandom(8192))
    monitor = make_monitor(alert_store_url=None)
    monitor.add_notifier(recorder)
    slow_request(monitor)
    slow_request(monitor)
    monitor.flush()
    assert len(recorder.alerts) == 1
    assert "using the alert store" not in monitor.get_stats()["internal_errors"]
    conn = sqlite3.connect(report_dir / STORE_NAME)
    assert conn.execute("PRAGMA application_id").fetchone() == (SQLiteStore.APPLICATION_ID,)
    assert conn.execute("SELECT suppressed FROM wpm_windows").fetchall() == [(1,)]
    conn.close()


def test_a_store_of_the_previous_version_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    make_foreign(path, [OUR_TABLE, "INSERT INTO wpm_alerts VALUES ('GET /a', 1e12, 't', 0, 0)"])
    assert SQLiteStore(str(path)).claim("GET /a", 3600) is None  # its window still holds
    assert list(tmp_path.glob("*.foreign-*")) == []


def test_a_locked_store_is_not_mistaken_for_a_foreign_one(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    SQLiteStore(str(path)).claim("GET /a", 3600)
    store = SQLiteStore(str(path))
    store.busy_timeout = 0.1
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.claim("GET /b", 60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert list(tmp_path.glob("*.foreign-*")) == []
    assert store.claim("GET /b", 60) is not None
    store.close()


def test_a_symlink_in_place_of_the_store_is_refused(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        report_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.db"
    report_dir.mkdir()
    (report_dir / STORE_NAME).symlink_to(outside)
    with pytest.raises(UnsafePath, match="symlink"):
        SQLiteStore(str(report_dir / STORE_NAME)).claim("GET /a", 60)
    monitor = make_monitor(alert_store_url=None)
    monitor.add_notifier(recorder)
    slow_request(monitor)
    slow_request(monitor)
    monitor.flush()
    assert not outside.exists()  # nothing written through the link
    assert len(recorder.alerts) == 1  # still one alert, from the in-process stand-in
    assert monitor.get_stats()["internal_errors"]["using the alert store"] == 1


@root_only
def test_a_store_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    make_foreign(path, [OUR_TABLE])
    os.chown(path, 65534, 65534)
    with pytest.raises(UnsafePath, match="uid 65534"):
        SQLiteStore(str(path)).claim("GET /a", 60)
    wal = tmp_path / "b.db-wal"
    wal.write_bytes(b"")
    os.chown(wal, 65534, 65534)
    with pytest.raises(UnsafePath, match="uid 65534"):
        SQLiteStore(str(tmp_path / "b.db")).claim("GET /a", 60)


def test_the_store_is_created_private_and_an_old_open_one_tightened(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "new" / "alerts.db"))
    store.claim("GET /a", 60)
    assert mode(tmp_path / "new") == 0o700
    assert {p.name: mode(p) for p in (tmp_path / "new").iterdir()} == {
        "alerts.db": 0o600, "alerts.db-wal": 0o600, "alerts.db-shm": 0o600}
    old = tmp_path / "old.db"
    make_foreign(old, [OUR_TABLE])
    old.chmod(0o666)
    SQLiteStore(str(old)).claim("GET /a", 60)
    assert mode(old) == 0o600


def test_the_default_folder_is_per_user_and_private(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorder: RecordingNotifier) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "state" / "web-performance-monitor"
    assert Config().local_output_dir == str(folder)
    monitor = PerformanceMonitor(Config(threshold_seconds=0.05))
    try:
        assert mode(folder) == 0o700
        slow_request(monitor)
        monitor.flush()
        assert (folder / STORE_NAME).exists() and list(folder.glob("wpm_*.html"))
    finally:
        monitor.close(final=True)
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", "/")  # a service user without a home of its own
    assert default_output_dir() == f"/tmp/wpm-{os.geteuid()}"


@root_only
def test_a_default_folder_planted_by_another_user_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the fresh folder goes here
    planted = tmp_path / "web-performance-monitor"
    planted.mkdir(mode=0o777)
    os.chown(planted, 65534, 65534)
    monitor = PerformanceMonitor(Config(threshold_seconds=0.05))
    try:
        used = Path(monitor.config.local_output_dir)
        assert used != planted and used.owner() == "root" and mode(used) == 0o700
        assert "is unsafe" in caplog.text
    finally:
        monitor.close(final=True)


@root_only
def test_a_chosen_folder_of_another_user_is_not_used(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the fresh folder goes here
    theirs = tmp_path / "reports"
    theirs.mkdir(mode=0o777)
    os.chown(theirs, 65534, 65534)
    monitor = make_monitor(local_output_dir=str(theirs), alert_store_url=None)
    used = Path(monitor.config.local_output_dir)
    assert used != theirs and mode(used) == 0o700 and "is unsafe" in caplog.text
    slow_request(monitor)
    monitor.flush()
    assert list(theirs.iterdir()) == []
    os.chown(theirs, 0, 0)  # root's own folders (/var/log/app) are trusted
    assert make_monitor(local_output_dir=str(theirs)).config.local_output_dir == str(theirs)


def test_relative_paths_are_resolved_once_at_start_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "app")
    monitor = make_monitor(local_output_dir="reports", alert_store_url="sqlite://alerts.db")
    monkeypatch.chdir(tmp_path / "elsewhere")  # the application changes folder later
    slow_request(monitor)
    monitor.flush()
    assert list((tmp_path / "app" / "reports").glob("wpm_*.html"))
    assert (tmp_path / "app" / "alerts.db").exists()
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert monitor.config.local_output_dir == str(tmp_path / "app" / "reports")


def test_expired_sqlite_rows_are_deleted(tmp_path: Path) -> None:
    path = str(tmp_path / "alerts.db")
    store = SQLiteStore(path, Retention(keep_seconds=0.05))
    store.claim("GET /old", 0.01)
    time.sleep(0.1)
    store._purge_at = 0.0  # an hour later
    store.claim("GET /new", 3600)
    rows = store._execute("SELECT endpoint FROM wpm_windows", {})
    assert rows == [("GET /new",)]
    store.close()


def test_a_released_windows_count_is_kept_for_the_retention_time(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "alerts.db"), Retention(keep_seconds=3600))
    claim = store.claim("GET /a", 60)
    assert claim is not None
    store.release(claim)  # every notifier failed
    store._purge_at = 0.0
    store.claim("GET /b", 60)  # a purge runs
    again = store.claim("GET /a", 60)
    assert again is not None and again.suppressed_before == 1
    store.close()


def test_every_redis_key_expires(redis_url: str) -> None:
    prefix = f"wpm-expiry-{time.monotonic_ns()}:"
    store = RedisStore(redis_url, prefix=prefix, retention=Retention(keep_seconds=3600))
    claim = store.claim("GET /a", 60)
    assert claim is not None
    store.suppress("GET /a")
    store.suppress("GET /b")  # no window yet: the counter alone
    store.release(claim)
    store.merge({("", "GET /c"): (time.time() + 60, "t")}, {("", "GET /d"): 2})
    store.record(AlertRecord("", "GET /a", time.time(), 1.5, 200, None, None, "web-1", 1))
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(f"{prefix}*")
    assert len(keys) >= 8  # windows, counts, held-back figures, the index, the history
    assert {key: 0 < client.pttl(key) <= 3600_000 for key in keys} == dict.fromkeys(keys, True)
    client.close()
    store.close()


@pytest.fixture
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(FailoverStore, "retry_seconds", 0.2)
    return 0.2


def test_after_a_redis_outage_the_store_reconnects_and_takes_the_stand_ins_claims(
        redis_server: RedisServer, quick_retry: float,
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier) -> None:
    monitors = [make_monitor(alert_store_url=redis_server.url) for _ in range(2)]
    for monitor in monitors:
        monitor.add_notifier(recorder)
    redis_server.stop()
    for monitor in monitors:  # two monitors of one process: one claim while Redis is down
        slow_request(monitor, "/during")
        monitor.flush()
    assert [a.event.endpoint for a in recorder.alerts] == ["GET /during"]
    assert monitors[0].get_stats()["internal_errors"]["using the alert store"] == 1
    redis_server.start()  # empty: what was in it before the outage is gone
    time.sleep(quick_retry * 1.5)
    slow_request(monitors[0], "/after")
    monitors[0].flush()
    other_host = RedisStore(redis_server.url)
    service = monitors[0].service_name  # named by the app the middleware wraps
    assert other_host.claim("GET /during", 60, service=service) is None  # merged back
    assert other_host.claim("GET /after", 60, service=service) is None
    other_host.close()
    assert [a.event.endpoint for a in recorder.alerts] == ["GET /during", "GET /after"]


def test_after_a_sqlite_outage_the_store_reconnects_and_takes_the_stand_ins_claims(
        tmp_path: Path, quick_retry: float, monkeypatch: pytest.MonkeyPatch,
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier) -> None:
    path = tmp_path / "alerts.db"
    monitor = make_monitor(alert_store_url=f"sqlite://{path}")
    monitor.add_notifier(recorder)
    slow_request(monitor, "/before")
    monitor.flush()

    def disk_error(self: SQLiteStore, sql: str, params: object) -> list[object]:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as outage:
        outage.setattr(SQLiteStore, "_execute", disk_error)
        slow_request(monitor, "/during")
        slow_request(monitor, "/during")
        monitor.flush()
    time.sleep(quick_retry * 1.5)
    slow_request(monitor, "/after")
    monitor.flush()
    assert [a.event.endpoint for a in recorder.alerts] == [
        "GET /before", "GET /during", "GET /after"]
    other_process = SQLiteStore(str(path))
    assert other_process.claim("GET /during", 60, service=monitor.service_name) is None
    rows = dict(other_process._execute("SELECT endpoint, suppressed FROM wpm_windows", {}))
    assert rows["GET /during"] == 1  # the repeat during the outage is counted, not lost
    other_process.close()


def test_two_stores_of_one_file_in_a_process_see_another_processs_writes(
        tmp_path: Path) -> None:
    """Opening the file to check it dropped this process's SQLite locks: another process then
    took itself for the file's last user and deleted the WAL index, and the first store
    read a stale copy for good (found by ``wpm window reset``: the window stayed shut)."""
    path = str(tmp_path / STORE_NAME)
    first, second = SQLiteStore(path), SQLiteStore(path)
    for store, endpoint in ((first, "GET /a"), (second, "GET /b")):
        assert store.claim(endpoint, 3600) is not None
        store.record(AlertRecord("", endpoint, time.time(), 1.5, 200, None, None, "web-1", 1))
    assert first.claim("GET /a", 3600) is None
    first.suppress("GET /a")
    for command in (["window"], ["window", "reset"]):
        done = subprocess.run([sys.executable, "-m", "web_performance_monitor", *command],
                              env=subprocess_env({"WPM_LOCAL_OUTPUT_DIR": str(tmp_path)}),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert first.claim("GET /a", 3600) is not None
    assert second.claim("GET /b", 3600) is not None
    first.close()
    second.close()
