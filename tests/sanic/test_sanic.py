"""sanic_wpm through sanic-testing's real server on 127.0.0.1, its ASGI client, and two workers."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from sanic import Sanic

from sanic_wpm import WPM
from tests.conftest import RecordingNotifier, assert_own_frames_only, functions_in, report_endpoint
from tests.sanic.apps import build_app
from tests.servers import BIN, ROOT, get_json, serve, wait_for_suppressed
from web_performance_monitor import ConfigError


def new_app(report_dir: Path, recorder: RecordingNotifier | None = None, **config: object) -> Sanic:
    return build_app(f"t{uuid.uuid4().hex[:12]}", report_dir, recorder, **config)


def test_defaults_never_overwrite_user_keys(report_dir: Path) -> None:
    app = new_app(report_dir)
    assert app.config.WPM_THRESHOLD_SECONDS == 0.05
    assert app.config.WPM_ALERT_WINDOW_DAYS == 10
    assert app.ctx.wpm.config.threshold_seconds == 0.05


def test_bad_config_names_the_key(report_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^app\.config\.WPM_THRESHOLD_SECONDS: expected"):
        new_app(report_dir, WPM_THRESHOLD_SECONDS=-2)


def test_double_registration_is_refused(report_dir: Path) -> None:
    app = new_app(report_dir)
    with pytest.raises(RuntimeError, match="already registered"):
        WPM(app)


def test_init_app_and_sanic_env_prefix(report_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANIC_WPM_THRESHOLD_SECONDS", "2.5")
    app = Sanic(f"env{uuid.uuid4().hex[:8]}")
    app.config.WPM_LOCAL_OUTPUT_DIR = str(report_dir)
    wpm = WPM()
    wpm.init_app(app)
    assert app.ctx.wpm.config.threshold_seconds == 2.5


def test_wpm_environment_applies_below_sanic_config(report_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPM_ALERT_WINDOW_DAYS", "2")
    monkeypatch.setenv("WPM_THRESHOLD_SECONDS", "9")  # app.config sets 0.05: that wins
    app = new_app(report_dir)
    assert (app.ctx.wpm.config.alert_window_days, app.ctx.wpm.config.threshold_seconds) == (2, 0.05)


def test_get_monitor_explains_a_missing_registration() -> None:
    with pytest.raises(RuntimeError, match="init_app"):
        WPM.get_monitor(Sanic(f"bare{uuid.uuid4().hex[:8]}"))


def test_slow_handler_gives_one_report_naming_its_functions(
        report_dir: Path, recorder: RecordingNotifier) -> None:
    app = new_app(report_dir, recorder)
    _, response = app.test_client.get("/items/5")
    assert response.json == {"iid": 5, "url": "/items/5"}  # url_for unaffected
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET /items/<iid:int>"
    assert "slow_marker" in functions_in(alert)
    assert alert.report_path is not None and os.path.exists(alert.report_path)


def test_blueprint_route_template(report_dir: Path, recorder: RecordingNotifier) -> None:
    app = new_app(report_dir, recorder)
    _, response = app.test_client.get("/shop/orders/9")
    assert response.json == {"oid": 9}
    assert [a.event.endpoint for a in recorder.alerts] == ["GET /shop/orders/<oid:int>"]


def test_body_is_readable_by_the_handler_and_masked(report_dir: Path,
                                                     recorder: RecordingNotifier) -> None:
    app = new_app(report_dir, recorder)
    payload = {"user": "ada", "password": "PW-SECRET"}
    _, response = app.test_client.post("/echo", json=payload)
    assert response.json == {"json": payload}
    alert = recorder.alerts[0]
    assert alert.request is not None
    assert alert.request["body"]["json"] == {"user": "ada", "password": "********"}
    assert "PW-SECRET" not in alert.html


def test_handler_exception_still_gives_its_error_response(
        report_dir: Path, recorder: RecordingNotifier) -> None:
    app = new_app(report_dir, recorder)
    _, response = app.test_client.get("/boom")
    assert response.status == 500
    assert recorder.alerts[0].event.status == 500


def test_two_paths_one_route_and_concurrent_requests(report_dir: Path,
                                                     recorder: RecordingNotifier) -> None:
    """50 concurrent requests on one loop, half slow: counts are right and every slow report
    holds its own request's frames, never the fast neighbours' (alert window 0: each alerts)."""
    app = new_app(report_dir, recorder, WPM_ALERT_WINDOW_DAYS=0)

    async def main() -> list[int]:
        paths = [f"/work/{'slow' if i % 2 else 'fast'}/{i}" for i in range(50)]
        await app.asgi_client.get("/fast")  # starts the app (lifespan)
        results = await asyncio.gather(*(app.asgi_client.get(p) for p in paths))
        WPM.get_monitor(app).flush()
        return [response.json["n"] for _, response in results]

    assert asyncio.run(main()) == list(range(50))
    assert len(recorder.alerts) == 25
    assert {a.event.endpoint for a in recorder.alerts} == {"GET /work/slow/<n:int>"}
    assert_own_frames_only(recorder.alerts)


def test_two_workers_share_one_alert(report_dir: Path) -> None:
    argv = [str(BIN / "sanic"), "tests.sanic.server_app:app", "--host", "127.0.0.1",
            "--port", "{port}", "--workers", "2"]
    env = {"TEST_REPORT_DIR": str(report_dir), "PYTHONPATH": str(ROOT)}
    with serve(argv, cwd=ROOT, env=env) as url:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(get_json, [f"{url}/items/{i}" for i in range(30)]))
        assert [a["iid"] for a in answers] == list(range(30))
        wait_for_suppressed(report_dir / ".wpm-alerts.sqlite3", "GET /items/<iid:int>", 29)
    reports = sorted(p.name for p in report_dir.glob("wpm_*.html"))
    assert len(reports) == 1 and report_endpoint(reports[0]) == "GET-items-iid-int", reports


def test_faults_leave_the_response_unchanged(report_dir: Path, fault: str) -> None:
    app = new_app(report_dir)

    async def main() -> list[tuple[int, object]]:
        _, first = await app.asgi_client.get("/items/4?q=%ff%fe", headers={"X-Trace-Id": "t"})
        _, second = await app.asgi_client.post("/echo", content=b'{"broken": ',
                                               headers={"Content-Type": "application/json"})
        WPM.get_monitor(app).flush(5)
        return [(first.status, first.json), (second.status, None)]

    assert asyncio.run(main()) == [(200, {"iid": 4, "url": "/items/4"}), (400, None)]


def test_two_paths_of_one_route_share_one_alert(report_dir: Path,
                                                recorder: RecordingNotifier) -> None:
    app = new_app(report_dir, recorder)

    async def main() -> list[int]:
        answers = []
        for iid in (1, 2, 3):
            _, response = await app.asgi_client.get(f"/items/{iid}")
            answers.append(response.json["iid"])
        WPM.get_monitor(app).flush()
        return answers

    assert asyncio.run(main()) == [1, 2, 3]
    assert [a.event.endpoint for a in recorder.alerts] == ["GET /items/<iid:int>"]
