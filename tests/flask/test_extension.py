"""flask_wpm.WPM: Flask's extension conventions, route templates, the CLI, fault isolation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_wpm import WPM
from tests.conftest import RecordingNotifier, busy
from tests.flask.conftest import build_app
from web_performance_monitor import ConfigError


def test_config_is_read_from_app_config(app: Flask) -> None:
    monitor = WPM.get_monitor(app)
    assert monitor.config.threshold_seconds == 0.05
    assert app.config["WPM_ALERT_WINDOW_DAYS"] == 10  # defaults filled in, user keys kept
    assert app.extensions["wpm"].monitor is monitor


def test_init_app_in_a_factory_and_two_isolated_apps(report_dir: Path) -> None:
    wpm = WPM()
    first = build_app(report_dir, WPM_THRESHOLD_SECONDS=0.01)
    second = build_app(report_dir, WPM_THRESHOLD_SECONDS=5)
    wpm.init_app(first)
    wpm.init_app(second)
    first.test_client().get("/users/1")
    assert WPM.get_monitor(first).get_stats()["slow_requests"] == 1
    assert WPM.get_monitor(second).get_stats()["total_requests"] == 0
    with first.app_context():
        assert wpm.monitor is WPM.get_monitor(first)


def test_double_init_is_refused(app: Flask) -> None:
    with pytest.raises(RuntimeError, match="already been registered"):
        WPM(app)


@pytest.mark.parametrize("key, value, message", [
    ("WPM_THRESHOLD_SECONDS", -1, 'app.config["WPM_THRESHOLD_SECONDS"]: expected a number >= 0'),
    ("WPM_ENABLE_MATTERMOST", "perhaps", 'app.config["WPM_ENABLE_MATTERMOST"]: expected true'),
    ("WPM_TRESHOLD_SECONDS", 1, 'app.config["WPM_TRESHOLD_SECONDS"]: unknown configuration key; '
                                'did you mean app.config["WPM_THRESHOLD_SECONDS"]?'),
])
def test_bad_config_fails_at_init_naming_the_key(report_dir: Path, key: str, value: object,
                                                 message: str) -> None:
    app = build_app(report_dir, **{key: value})
    with pytest.raises(ConfigError) as info:
        WPM(app)
    assert str(info.value).startswith(message)
    assert "wpm" not in app.extensions


def test_two_paths_of_one_route_share_one_alert(app: Flask, recorder: RecordingNotifier) -> None:
    client = app.test_client()
    assert client.get("/users/1").json == {"id": 1}
    assert client.get("/users/2").json == {"id": 2}
    assert client.get("/api/items/a").json == {"name": "a"}
    WPM.get_monitor(app).flush()
    assert sorted(a.event.endpoint for a in recorder.alerts) == [
        "GET /api/items/<name>", "GET /users/<int:uid>"]
    stats = WPM.get_monitor(app).get_stats()
    assert stats["endpoints"]["GET /users/<int:uid>"]["requests"] == 2
    assert stats["alerts_suppressed"] == 1


def test_slow_alert_has_the_status_flask_sent(app: Flask, recorder: RecordingNotifier) -> None:
    @app.get("/teapot")
    def teapot() -> Any:
        busy(0.06)
        return "short and stout", 418

    assert app.test_client().get("/teapot").status_code == 418
    assert app.test_client().get("/users/7").status_code == 200
    WPM.get_monitor(app).flush()
    assert {(a.event.endpoint, a.event.status) for a in recorder.alerts} == {
        ("GET /teapot", 418), ("GET /users/<int:uid>", 200)}


def test_unknown_urls_share_one_endpoint(app: Flask) -> None:
    client = app.test_client()
    for path in ("/nope/1", "/nope/2", "/random"):
        assert client.get(path).status_code == 404
    endpoints = WPM.get_monitor(app).get_stats()["endpoints"]
    assert endpoints["GET <unmatched>"]["requests"] == 3


def test_view_reads_its_body_and_report_has_it_masked(app: Flask,
                                                      recorder: RecordingNotifier) -> None:
    client = app.test_client()
    response = client.post("/echo", json={"user": "ada", "password": "S3CRET"})
    assert response.json["json"] == {"user": "ada", "password": "S3CRET"}
    response = client.post("/echo", data={"name": "bob", "csrf_token": "CSRF-1"})
    assert response.json["form"] == {"name": "bob", "csrf_token": "CSRF-1"}
    WPM.get_monitor(app).flush()
    [alert] = recorder.alerts
    assert alert.request is not None
    assert alert.request["body"]["json"] == {"user": "ada", "password": "********"}
    assert "S3CRET" not in alert.html


def test_streamed_response_passes_through(app: Flask, recorder: RecordingNotifier) -> None:
    response = app.test_client().get("/stream")
    assert response.is_streamed
    assert response.get_data(as_text=True) == "0\n1\n2\n"
    monitor = WPM.get_monitor(app)
    monitor.flush()
    assert monitor.get_stats()["slow_requests"] == 1
    assert recorder.alerts[0].event.duration >= 0.09


def test_view_exception_propagates_unchanged(app: Flask, recorder: RecordingNotifier) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ZeroDivisionError, match="view bug"):
        app.test_client().get("/boom")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get("/boom").status_code == 500
    monitor = WPM.get_monitor(app)
    monitor.flush()
    assert monitor.get_stats()["slow_requests"] == 2
    assert recorder.alerts[0].event.endpoint == "GET /boom"


def test_blacklist_from_app_config(make_app: Callable[..., Flask],
                                   recorder: RecordingNotifier) -> None:
    app = make_app(WPM_URL_BLACKLIST=["/users/.*"])
    WPM.get_monitor(app).add_notifier(recorder)
    app.test_client().get("/users/3")
    WPM.get_monitor(app).flush()
    assert recorder.alerts == []
    assert WPM.get_monitor(app).get_stats()["slow_requests"] == 1


def test_cli_config_masks_the_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(WPM_MATTERMOST_TOKEN="cli-secret-token")
    result = app.test_cli_runner().invoke(args=["wpm", "config", "--json"])
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["WPM_THRESHOLD_SECONDS"] == 0.05  # as app.config holds it
    assert shown["WPM_MATTERMOST_TOKEN"] == "********"
    assert "cli-secret-token" not in result.output


def test_cli_test_alert(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    app = make_app()
    result = app.test_cli_runner().invoke(args=["wpm", "test-alert"])
    assert result.exit_code == 0, result.output
    assert "local_file: ok" in result.output
    blocker = tmp_path / "f"
    blocker.write_text("")
    broken = make_app(WPM_LOCAL_OUTPUT_DIR=str(blocker / "sub"))
    result = broken.test_cli_runner().invoke(args=["wpm", "test-alert"])
    assert result.exit_code == 1
    assert "local_file: FAILED" in result.output


def test_faults_leave_the_response_unchanged(app: Flask, fault: str) -> None:
    client = app.test_client()
    response = client.get("/users/4", headers={"X-Trace-Id": "t-1"})
    assert (response.status_code, response.json) == (200, {"id": 4})
    assert response.headers["Content-Type"] == "application/json"
    response = client.post("/echo?q=%ff%fe", data=b'{"broken": ', content_type="application/json")
    assert response.status_code == 200 and response.json["json"] is None
    WPM.get_monitor(app).flush(5)


def test_environment_applies_below_app_config(report_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPM_ALERT_WINDOW_DAYS", "2")
    monkeypatch.setenv("WPM_THRESHOLD_SECONDS", "9")  # app.config sets 0.05: that wins
    app = build_app(report_dir)
    WPM(app)
    config = WPM.get_monitor(app).config
    assert (config.alert_window_days, config.threshold_seconds) == (2.0, 0.05)
    assert app.config["WPM_ALERT_WINDOW_DAYS"] == 2.0  # the effective value is shown


def test_bad_environment_variable_fails_at_init_naming_it(
        report_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPM_ALERT_WINDOW_DAYS", "abc")
    with pytest.raises(ConfigError) as info:
        WPM(build_app(report_dir))
    assert str(info.value) == "WPM_ALERT_WINDOW_DAYS: expected a number >= 0, got 'abc'"


def test_get_monitor_explains_a_missing_init_app(report_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="init_app"):
        WPM.get_monitor(build_app(report_dir))


def test_unknown_environment_variable_is_skipped_with_a_warning(
        report_dir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("WPM_REPORT_DIR", "/elsewhere")  # another tool's variable
    app = build_app(report_dir)
    WPM(app)
    assert WPM.get_monitor(app).config.local_output_dir == str(report_dir)
    assert ["ignoring the environment variable WPM_REPORT_DIR" in r.getMessage()
            for r in caplog.records if r.levelname == "WARNING"] == [True]
