"""A ``wsgi.file_wrapper`` response goes back to the server unwrapped, timed to the app's end."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

from tests.servers import BIN, ROOT, get_json, serve
from web_performance_monitor import PerformanceMonitor


def test_gunicorn_still_sends_the_file_with_sendfile(tmp_path: Path) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    log = tmp_path / "sendfile.log"
    argv = [str(BIN / "gunicorn"), "-w", "1", "-b", "127.0.0.1:{port}",
            "-c", str(ROOT / "tests" / "core" / "gunicorn_sendfile.py"),
            "tests.core.file_wrapper_app:app"]
    env = {"PYTHONPATH": str(ROOT), "TEST_FILE": str(payload), "TEST_SENDFILE_LOG": str(log),
           "WPM_LOCAL_OUTPUT_DIR": str(tmp_path / "reports"), "WPM_ALERT_STORE_URL": "memory://",
           "WPM_THRESHOLD_SECONDS": "0.05"}
    with serve(argv, cwd=ROOT, env=env) as url:
        with urllib.request.urlopen(f"{url}/file", timeout=60) as response:
            assert response.read() == payload.read_bytes()
        stats = get_json(f"{url}/stats")
    assert log.read_text().splitlines() == ["FileWrapper sendfile=True"]
    assert stats["GET /file"]["requests"] == 1
    assert stats["GET /file"]["slow_requests"] == 1  # the app's 0.1 s are counted


def test_the_file_wrapper_object_itself_is_returned_and_timed(
        monitor: PerformanceMonitor, tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 10)
    sent: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        sent.append(environ["wsgi.file_wrapper"](open(path, "rb")))
        return sent[0]

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/f", "wsgi.file_wrapper": FileWrapper}
    result = monitor.create_middleware()(app)(environ, lambda *a: None)
    assert result is sent[0]  # the server gets its own object back
    assert monitor.get_stats()["total_requests"] == 1  # timed to the end of the app call
    result.close()
