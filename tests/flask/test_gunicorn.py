"""A real gunicorn server with four worker processes: one alert per endpoint across all of them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import report_endpoint
from tests.mattermost_server import CHANNEL, TOKEN, FakeMattermost
from tests.servers import BIN, ROOT, get_json, serve, subprocess_env, wait_for_suppressed


def test_one_alert_per_endpoint_across_workers(report_dir: Path) -> None:
    argv = [str(BIN / "gunicorn"), "-w", "4", "-b", "127.0.0.1:{port}",
            "tests.flask.gunicorn_app:app"]
    env = {"TEST_REPORT_DIR": str(report_dir), "PYTHONPATH": str(ROOT)}
    with serve(argv, cwd=ROOT, env=env) as url, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(get_json, [f"{url}/users/{i}" for i in range(40)]))
        list(pool.map(get_json, [f"{url}/fast"] * 20))
        assert [a["id"] for a in answers] == list(range(40))
        assert len({a["pid"] for a in answers}) >= 2  # several workers really served requests
        # One claim in the shared SQLite store; the 39 other slow requests counted as suppressed.
        wait_for_suppressed(report_dir / ".wpm-alerts.sqlite3", "GET /users/<int:uid>", 39)
    reports = sorted(p.name for p in report_dir.glob("wpm_*.html"))
    assert len(reports) == 1, reports
    assert report_endpoint(reports[0]) == "GET-users-int-uid"


def test_a_hanging_chat_server_costs_no_local_report(report_dir: Path) -> None:
    """Issue 14, row 2 on gunicorn: Mattermost accepts connections and never answers; 30 slow
    endpoints get their 30 local reports at once, and the workers stop cleanly."""
    with FakeMattermost() as chat:
        chat.mode = "hang"
        argv = [str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:{port}",
                "tests.flask.gunicorn_chat_app:app"]
        env = {"PYTHONPATH": str(ROOT), "WPM_THRESHOLD_SECONDS": "0.05",
               "WPM_LOCAL_OUTPUT_DIR": str(report_dir), "WPM_ENABLE_MATTERMOST": "true",
               "WPM_MATTERMOST_SERVER_URL": chat.url, "WPM_MATTERMOST_TOKEN": TOKEN,
               "WPM_MATTERMOST_CHANNEL_ID": CHANNEL, "WPM_MATTERMOST_TIMEOUT_SECONDS": "3",
               "WPM_LOG_LEVEL": "ERROR"}
        with serve(argv, cwd=ROOT, env=env) as url, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(get_json, [f"{url}/e{i}" for i in range(30)]))
            assert [a["endpoint"] for a in answers] == list(range(30))
            deadline = time.monotonic() + 30
            while len(list(report_dir.glob("wpm_*.html"))) < 30:
                assert time.monotonic() < deadline, sorted(report_dir.glob("wpm_*.html"))
                time.sleep(0.1)
        assert chat.posts == []
    reports = sorted(report_endpoint(path.name) for path in report_dir.glob("wpm_*.html"))
    assert reports == sorted(f"GET-e{i}" for i in range(30))


def test_two_apps_sharing_a_folder_each_alert_for_the_same_route(report_dir: Path) -> None:
    """Issue 16: an app's GET /slow was silenced because another app in the same folder had
    alerted its own GET /slow. Two servers, two services, one folder: two alerts, and
    ``wpm list`` tells them apart."""
    argv = [str(BIN / "gunicorn"), "-w", "1", "-b", "127.0.0.1:{port}",
            "tests.flask.gunicorn_app:app"]
    for service in ("shop", "blog"):
        env = {"TEST_REPORT_DIR": str(report_dir), "WPM_SERVICE_NAME": service}
        with serve(argv, cwd=ROOT, env=env) as url:
            assert get_json(f"{url}/users/1")["id"] == 1
    done = subprocess.run([sys.executable, "-m", "web_performance_monitor", "list", "--json"],
                          env=subprocess_env({"WPM_LOCAL_OUTPUT_DIR": str(report_dir)}),
                          capture_output=True, text=True, timeout=60, check=True)
    records = json.loads(done.stdout)
    assert sorted((r["service"], r["endpoint"]) for r in records) == [
        ("blog", "GET /users/<int:uid>"), ("shop", "GET /users/<int:uid>")]
    assert sorted(r["report"] for r in records) == sorted(
        p.name for p in report_dir.glob("wpm_*.html"))
