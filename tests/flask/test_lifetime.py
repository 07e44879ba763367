"""Resources end with their owner: an app factory's apps, dropped, take their monitors along."""

from __future__ import annotations

import gc
import threading
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from flask_wpm import WPM
from tests.flask.conftest import build_app


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wpm-")]


def settle() -> None:
    """Collect, then let the monitor's threads (the sampler, the alert worker) notice that
    nobody is left to serve and end."""
    gc.collect()
    for thread in monitor_threads():
        thread.join(2)
    gc.collect()


def thread_names() -> Counter[str]:
    return Counter(t.name for t in threading.enumerate())


@pytest.fixture
def baseline() -> Iterator[Counter[str]]:
    """The threads by name before the test (earlier tests may have left some: never more)."""
    settle()
    yield thread_names()


def serve_and_drop(report_dir: Path, count: int) -> list[weakref.ref[object]]:
    """``count`` apps from a factory, each serving one slow (alerted) request, then dropped."""
    refs: list[weakref.ref[object]] = []
    for _ in range(count):
        app = build_app(report_dir, WPM_THRESHOLD_SECONDS=0.0, WPM_ALERT_WINDOW_DAYS=0)
        WPM(app)
        assert app.test_client().get("/fast").status_code == 200
        monitor = WPM.get_monitor(app)
        monitor.flush()
        refs += [weakref.ref(app), weakref.ref(monitor), weakref.ref(monitor._profiler)]
        del app, monitor
    settle()
    return refs


def test_20_dropped_apps_leave_no_monitor_and_no_thread_behind(
        report_dir: Path, baseline: Counter[str]) -> None:
    """Issue 14: 20 apps, one slow request each, dropped: 20 monitors and 40 threads stayed."""
    refs = serve_and_drop(report_dir, 20)
    assert [r for r in refs if r() is not None] == []
    assert thread_names() <= baseline


def objects_left(report_dir: Path, count: int, *, monitored: bool) -> int:
    """Python objects still alive after building, using and dropping ``count`` apps: a memory
    measure that, unlike RSS or tracemalloc, neither drifts with the allocator nor slows Flask
    down ten times."""
    settle()
    before = len(gc.get_objects())
    if monitored:
        serve_and_drop(report_dir, count)
    else:
        for _ in range(count):
            app: Flask | None = build_app(report_dir)
            assert app is not None and app.test_client().get("/fast").status_code == 200
            app = None
    settle()
    return len(gc.get_objects()) - before


def test_100_apps_built_and_dropped_leave_threads_and_memory_as_they_were(
        report_dir: Path, baseline: Counter[str]) -> None:
    objects_left(report_dir, 5, monitored=True)  # warm caches up
    bare = objects_left(report_dir, 100, monitored=False)
    monitored = objects_left(report_dir, 100, monitored=True)
    assert thread_names() <= baseline
    # A monitor kept alive holds ~100 objects (stats, queue, profiler): 100 would be 10,000.
    # What is left (~2 per app) is CPython's ABC isinstance caches (weak references to the
    # types the alert threads checked), bounded by the number of types.
    assert monitored - bare < 500
