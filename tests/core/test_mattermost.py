"""Mattermost alerts through mattermostdriver against a local v4 API server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from werkzeug.test import Client

from tests.conftest import free_port
from tests.core.wsgi_apps import slow_app
from tests.mattermost_server import CHANNEL, TOKEN, FakeMattermost
from web_performance_monitor import PerformanceMonitor


@pytest.fixture
def mm_monitor(make_monitor: Callable[..., PerformanceMonitor],
               mattermost: FakeMattermost) -> PerformanceMonitor:
    return make_monitor(enable_mattermost=True, mattermost_server_url=mattermost.url,
                        mattermost_token=TOKEN, mattermost_channel_id=CHANNEL,
                        mattermost_timeout_seconds=1.0)


def test_alert_posts_summary_and_attaches_report(mm_monitor: PerformanceMonitor,
                                                 mattermost: FakeMattermost) -> None:
    Client(mm_monitor.create_middleware()(slow_app)).post(
        "/orders/7", headers={"X-Request-ID": "req-77"})
    assert mm_monitor.flush(10)
    [post] = mattermost.posts
    assert post["channel_id"] == CHANNEL
    assert "POST /orders/{id}" in post["message"]  # no route template: values collapsed
    assert "threshold 0.050 s" in post["message"]
    assert "req-77" in post["message"]
    assert "Hot lines" in post["message"] and "busy" in post["message"]
    [file_id] = post["file_ids"]
    upload = mattermost.files[file_id]
    assert upload["channel_id"] == CHANNEL
    assert upload["name"].endswith(".html")
    assert b"POST /orders/{id}" in upload["content"]
    assert set(mattermost.auth_headers) == {f"Bearer {TOKEN}"}
    assert mm_monitor.get_stats()["alerts_sent"] == 1


def test_test_alert_system_really_sends(mm_monitor: PerformanceMonitor,
                                        mattermost: FakeMattermost) -> None:
    result = mm_monitor.test_alert_system()
    assert result == {"success": True, "error": None,
                      "notifier_results": {"local_file": True, "mattermost": True}}
    assert "test alert" in mattermost.posts[0]["message"]


@pytest.mark.parametrize("mode", ["401", "500", "slow"])
def test_server_failures_never_touch_the_request(mode: str, mm_monitor: PerformanceMonitor,
                                                 mattermost: FakeMattermost,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    mattermost.mode = mode
    bare = Client(slow_app).get("/x")
    response = Client(mm_monitor.create_middleware()(slow_app)).get("/x")
    assert (response.status, response.data) == (bare.status, bare.data)
    assert mm_monitor.flush(20)
    stats = mm_monitor.get_stats()
    assert stats["notifier_failures"] == {"mattermost": 1}
    assert stats["alerts_sent"] == 1  # the local file still went out
    result = mm_monitor.test_alert_system()
    assert result["success"] is False
    assert result["notifier_results"]["mattermost"] is False
    assert TOKEN not in (result["error"] or "")
    assert TOKEN not in caplog.text


def test_unreachable_server(make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monitor = make_monitor(enable_mattermost=True, enable_local_file=False,
                           mattermost_server_url=f"http://127.0.0.1:{free_port()}",
                           mattermost_token=TOKEN, mattermost_channel_id=CHANNEL)
    assert Client(monitor.create_middleware()(slow_app)).get("/x").status_code == 201
    assert monitor.flush(10)
    assert monitor.get_stats()["alerts_failed"] == 1
    result = monitor.test_alert_system()
    assert result["success"] is False and "ConnectionError" in result["error"]
