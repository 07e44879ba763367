"""Requests served by greenlets (gevent's own server, monkey-patched) get their own profiles."""

from __future__ import annotations

import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.servers import BIN, ROOT, get_json, serve

pytest.importorskip("gevent")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
        return body


SERVERS = {
    "gevent.pywsgi": [sys.executable, str(ROOT / "tests" / "core" / "gevent_server.py"),
                      "{port}"],
    "gunicorn -k gevent": [str(BIN / "gunicorn"), "-k", "gevent", "-w", "1",
                           "-b", "127.0.0.1:{port}", "tests.core.greenlet_app:wsgi"],
    # The app (and its monitor) made before the worker patches: seen at the first request.
    "gunicorn -k gevent --preload": [str(BIN / "gunicorn"), "-k", "gevent", "-w", "1",
                                     "--preload", "-b", "127.0.0.1:{port}",
                                     "tests.core.greenlet_app:wsgi"],
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_gevent_requests_are_profiled_each_with_its_own_frames(server: str,
                                                               tmp_path: Path) -> None:
    env = {"WPM_LOCAL_OUTPUT_DIR": str(tmp_path), "WPM_THRESHOLD_SECONDS": "0.3",
           "WPM_ALERT_STORE_URL": "memory://", "WPM_ALERT_WINDOW_DAYS": "0",
           "PYTHONPATH": str(ROOT)}
    with serve(SERVERS[server], cwd=ROOT, env=env) as url, ThreadPoolExecutor(2) as pool:
        fetch(f"{url}/catalogue")  # the first request: the sampler starts
        bodies = list(pool.map(fetch, [f"{url}/catalogue", f"{url}/invoice"]))
        assert bodies == [b"done", b"done"]
        alerts: list[dict[str, Any]] = get_json(f"{url}/_alerts")  # type: ignore[assignment]
    assert len(alerts) == 3, alerts
    catalogue, invoice = alerts[-2:] if alerts[-1]["endpoint"] == "GET /invoice" else (
        alerts[-1], alerts[-2])  # the two concurrent ones, in either order
    assert catalogue["note"] is None, catalogue  # never "discarded (an abandoned request)"
    assert "render_catalogue" in catalogue["functions"]
    assert "render_invoice" not in catalogue["functions"]
    assert "render_invoice" in invoice["functions"]
    assert "render_catalogue" not in invoice["functions"]
    alone = alerts[0]  # no neighbour to wait for: its time is its own CPU work
    assert alone["note"] is None and alone["hot"][0].startswith("burn ("), alone
