"""Two apps, one report folder and alert store: the service is part of the endpoint's identity,
so each app's ``GET /slow`` alerts (issue 16: a plain app's ``GET /slow`` was silenced because
another app in the same folder had alerted its own)."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

from tests.servers import BIN, ROOT, serve
from web_performance_monitor.store import open_store


def test_two_apps_with_the_same_route_each_alert(report_dir: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "WPM_THRESHOLD_SECONDS": "0.05",
           "WPM_LOCAL_OUTPUT_DIR": str(report_dir)}  # the default SQLite store, shared

    def gunicorn(app: str) -> list[str]:
        return [str(BIN / "gunicorn"), "-w", "1", "-b", "127.0.0.1:{port}",
                f"tests.flask.service_apps:{app}"]

    with serve(gunicorn("shop"), cwd=ROOT, env=env) as shop, \
            serve(gunicorn("admin"), cwd=ROOT, env=env) as admin:
        for url, name in ((shop, b"shop"), (admin, b"admin"), (shop, b"shop")):
            with urllib.request.urlopen(f"{url}/slow", timeout=30) as response:
                assert response.read() == name
        deadline = time.monotonic() + 30
        while len(list(report_dir.glob("wpm_*.html"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    # Both servers stopped (pending alerts flushed): one report per app, none for the repeat.
    reports = sorted(report_dir.glob("wpm_*.html"))
    assert len(reports) == 2, [p.name for p in reports]
    store = open_store(None, str(report_dir))  # the SQLite file both servers shared
    try:
        alerts = store.history()
        held = store.held()
    finally:
        store.close()
    assert sorted((a.service, a.endpoint) for a in alerts) == [("admin", "GET /slow"),
                                                               ("shop", "GET /slow")]
    assert [(h.service, h.endpoint, h.count) for h in held] == [("shop", "GET /slow", 1)]
