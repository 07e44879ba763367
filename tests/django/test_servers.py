"""The example project under real servers: gunicorn (WSGI) and uvicorn (ASGI), several workers."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import report_endpoint
from tests.servers import BIN, ROOT, get_json, serve, wait_for_suppressed

PROJECT = ROOT / "example_projects" / "django_project"


@pytest.fixture
def project_env(tmp_path: Path, report_dir: Path) -> dict[str, str]:
    env = {"EXAMPLE_DB": str(tmp_path / "db.sqlite3"), "EXAMPLE_REPORT_DIR": str(report_dir),
           "DJANGO_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "mysite.settings",
           "PYTHONPATH": str(PROJECT)}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=PROJECT,
                   env={**os.environ, **env}, check=True)
    return env


def hammer(url: str, path: str, count: int) -> list[dict[str, object]]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(get_json, [f"{url}{path.format(i=i)}" for i in range(count)]))


def reports(report_dir: Path) -> list[str]:
    return sorted(p.name for p in report_dir.glob("wpm_*.html"))


def test_wsgi_gunicorn_workers_share_one_alert(project_env: dict[str, str],
                                               report_dir: Path) -> None:
    argv = [str(BIN / "gunicorn"), "-w", "3", "-b", "127.0.0.1:{port}", "mysite.wsgi:application"]
    with serve(argv, cwd=PROJECT, env=project_env) as url:
        get_json(f"{url}/products/0/report/")  # seeds the database
        answers = hammer(url, "/products/{i}/report/", 20)
        hammer(url, "/fast/", 10)
        assert len({a["pid"] for a in answers}) >= 2
        wait_for_suppressed(report_dir / ".wpm-alerts.sqlite3",
                            "GET products/<int:pk>/report/", 20)
    assert [report_endpoint(name) for name in reports(report_dir)] == [
        "GET-products-int-pk-report"]


def test_asgi_uvicorn_workers_share_one_alert(project_env: dict[str, str],
                                              report_dir: Path) -> None:
    argv = [str(BIN / "uvicorn"), "--workers", "2", "--port", "{port}", "--host", "127.0.0.1",
            "mysite.asgi:application"]
    with serve(argv, cwd=PROJECT, env=project_env) as url:
        answers = hammer(url, "/async/{i}/", 16)
        assert [a["n"] for a in answers] == list(range(16))
        wait_for_suppressed(report_dir / ".wpm-alerts.sqlite3", "GET async/<int:n>/", 15)
    assert [report_endpoint(name) for name in reports(report_dir)] == ["GET-async-int-n"]
