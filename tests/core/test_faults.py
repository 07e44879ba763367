"""Faults inside the monitor never change what the application returns."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyinstrument
import pytest
from werkzeug.test import Client

from tests.conftest import RecordingNotifier
from tests.core.wsgi_apps import slow_app
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.events import Alert
from web_performance_monitor.notifiers import Notifier
from web_performance_monitor.profiling import ProfileResult


def assert_untouched(monitor: PerformanceMonitor, path: str = "/x") -> None:
    """The monitored app answers exactly like the bare app."""
    bare = Client(slow_app).post(path, data=b"body")
    watched = Client(monitor.create_middleware()(slow_app)).post(path, data=b"body")
    assert watched.status == bare.status
    assert watched.headers == bare.headers
    assert watched.data == bare.data


class RaisingNotifier(Notifier):
    name = "raising"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, alert: Alert) -> None:
        self.calls += 1
        raise ConnectionError("chat server exploded")

    def send_test(self) -> None:
        raise ConnectionError("chat server exploded")


class BlockingNotifier(Notifier):
    name = "blocking"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, alert: Alert) -> None:
        self.entered.set()
        self.release.wait(30)

    def send_test(self) -> None:
        pass


def test_report_folder_not_creatable(make_monitor: Callable[..., PerformanceMonitor],
                                     tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monitor = make_monitor(local_output_dir=str(blocker / "reports"))
    assert_untouched(monitor)
    monitor.flush()
    stats = monitor.get_stats()
    assert stats["alerts_failed"] == 1
    assert stats["notifier_failures"] == {"local_file": 1}


def test_disk_full(make_monitor: Callable[..., PerformanceMonitor],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any, **kwargs: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("web_performance_monitor.notifiers.local_file.write_atomically", full)
    monitor = make_monitor()
    assert_untouched(monitor)
    monitor.flush()
    assert monitor.get_stats()["notifier_failures"] == {"local_file": 1}


def test_renderer_raising_still_delivers_a_report(monitor: PerformanceMonitor,
                                                  recorder: RecordingNotifier,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: ProfileResult) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(ProfileResult, "render_html", broken)
    assert_untouched(monitor)
    monitor.flush()
    assert "Profile could not be rendered" in recorder.alerts[0].html


def test_notifier_raising_releases_the_window(make_monitor: Callable[..., PerformanceMonitor],
                                              caplog: pytest.LogCaptureFixture) -> None:
    monitor = make_monitor(enable_local_file=False, notify_retries=2)
    raising = RaisingNotifier()
    monitor.add_notifier(raising)
    assert_untouched(monitor)
    monitor.flush()
    assert raising.calls == 3  # one try and two retries
    assert_untouched(monitor)  # the window was released: this one alerts (and fails) again
    monitor.flush()
    assert raising.calls == 6
    stats = monitor.get_stats()
    assert stats["alerts_failed"] == 2 and stats["alerts_sent"] == 0
    assert stats["notifier_failures"] == {"raising": 6}
    warnings = [r for r in caplog.records if "chat server exploded" in r.getMessage()]
    assert len(warnings) == 1  # logged once per kind, not once per failure


def test_hanging_notifier_never_holds_a_request(
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monitor = make_monitor(enable_local_file=False, notify_queue_size=1,
                           alert_window_days=0)
    blocking = BlockingNotifier()
    monitor.add_notifier(blocking)
    assert_untouched(monitor, "/one")
    assert blocking.entered.wait(10)
    for path in ("/two", "/three", "/four"):  # the channel is stuck, its queue fills up
        assert_untouched(monitor, path)
    assert monitor.get_stats()["notifiers"]["blocking"]["dropped"] >= 1
    blocking.release.set()
    assert monitor.flush(10)


@pytest.mark.parametrize("engine, shown", [
    ("pyinstrument", "Profile missing: profile unavailable"),  # pyinstrument refuses a second
    ("sampler", "slow_app"),  # the sampler does not care who else profiles the thread
])
def test_profiler_already_running_in_the_thread(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        engine: str, shown: str) -> None:
    monitor = make_monitor(profiler=engine)
    monitor.add_notifier(recorder)
    outer = pyinstrument.Profiler()  # e.g. the user's own profiling middleware
    outer.start()
    try:
        assert_untouched(monitor)
    finally:
        outer.stop()
    monitor.flush()
    assert shown in recorder.alerts[0].html
    assert monitor.get_stats()["slow_requests"] == 1


@pytest.mark.parametrize("engine, target", [
    ("sampler", "web_performance_monitor.profiling.sampler._get_ident"),  # inside begin
    ("pyinstrument", "pyinstrument.Profiler.start"),
])
def test_profiler_start_failing(make_monitor: Callable[..., PerformanceMonitor],
                                recorder: RecordingNotifier, monkeypatch: pytest.MonkeyPatch,
                                engine: str, target: str) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("profiler bug")

    monitor = make_monitor(profiler=engine)
    monitor.add_notifier(recorder)
    monkeypatch.setattr(target, broken)
    assert_untouched(monitor)
    monitor.flush()
    assert monitor.get_stats()["internal_errors"] == {"starting the profiler": 1}
    assert monitor.get_stats()["slow_requests"] == 1
    assert "the profiler could not be started" in recorder.alerts[0].html


def test_unusable_alert_store_falls_back_to_memory(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monitor = make_monitor(alert_store_url=f"sqlite://{blocker}/sub/alerts.db")
    monitor.add_notifier(recorder)
    assert_untouched(monitor)
    assert_untouched(monitor)
    monitor.flush()
    assert len(recorder.alerts) == 1  # still de-duplicated, in process
    assert monitor.get_stats()["internal_errors"]["using the alert store"] >= 1


def test_capture_failure_still_alerts(monitor: PerformanceMonitor, recorder: RecordingNotifier,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise KeyError("environ")

    monkeypatch.setattr("web_performance_monitor.wsgi.record_from_environ", broken)
    assert_untouched(monitor)
    monitor.flush()
    assert len(recorder.alerts) == 1
    assert monitor.get_stats()["internal_errors"] == {"capturing request data": 1}


class HugeErrorNotifier(Notifier):
    """Fails like the file notifier did on a lone surrogate: an error holding the whole page."""

    name = "huge"

    def send(self, alert: Alert) -> None:
        raise UnicodeEncodeError("utf-8", alert.html + "x" * 300_000, 5, 6,
                                 "surrogates not allowed")


def test_failure_lines_are_short(make_monitor: Callable[..., PerformanceMonitor],
                                 caplog: pytest.LogCaptureFixture) -> None:
    """Issue 13: the warning carried the whole rendered report (``%r`` of the error)."""
    monitor = make_monitor(enable_local_file=False)
    monitor.add_notifier(HugeErrorNotifier())
    assert_untouched(monitor)
    monitor.flush()
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage().startswith(
        "web_performance_monitor: sending an alert to huge failed: UnicodeEncodeError: 'utf-8'")
    assert len(warning.getMessage()) < 400
    assert warning.exc_info is None  # the traceback goes to DEBUG
