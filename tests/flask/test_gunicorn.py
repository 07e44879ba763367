"""A real gunicorn server with four worker processes: one alert per endpoint across all of them."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn_server(report_dir: Path) -> Iterator[str]:
    if shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("gunicorn is not installed (pip install .[dev])")
    port = free_port()
    env = {**os.environ, "TEST_REPORT_DIR": str(report_dir), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", "4",
         "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "tests.flask.gunicorn_app:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
        assert b"Traceback" not in output, output.decode(errors="replace")


def get(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_one_alert_per_endpoint_across_workers(gunicorn_server: str, report_dir: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(get, [f"{gunicorn_server}/users/{i}" for i in range(40)]))
        list(pool.map(get, [f"{gunicorn_server}/fast"] * 20))
    assert [a["id"] for a in answers] == list(range(40))
    assert len({a["pid"] for a in answers}) >= 2  # several workers really served requests
    # Every worker's background thread records its outcome in the shared SQLite store: one
    # claim, and the 39 other slow requests counted as suppressed.
    store = sqlite3.connect(report_dir / ".wpm-alerts.sqlite3")
    deadline = time.monotonic() + 20
    suppressed = -1
    while suppressed != 39:
        assert time.monotonic() < deadline, f"suppressed count stuck at {suppressed}"
        time.sleep(0.1)
        try:
            row = store.execute("SELECT suppressed FROM wpm_alerts WHERE endpoint = ?",
                                ("GET /users/<int:uid>",)).fetchone()
        except sqlite3.OperationalError:  # the workers have not created the table yet
            continue
        suppressed = row[0] if row else -1
    reports = sorted(p.name for p in report_dir.glob("wpm_*.html"))
    assert len(reports) == 1, reports
    assert reports[0].startswith("wpm_GET-users-int-uid_")
