"""A real gunicorn server with four worker processes: one alert per endpoint across all of them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.servers import BIN, ROOT, get_json, serve, wait_for_suppressed


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
    assert reports[0].startswith("wpm_GET-users-int-uid_")
