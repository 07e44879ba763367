"""`make demo`: serve the example Flask app on 127.0.0.1, send it fast and slow requests, and show
what a user gets: the log lines, the alert a chat channel would receive, the report, the index
page and ``wpm list``.

Reports go to ``WPM_LOCAL_OUTPUT_DIR`` (default: a new temporary folder). Every other ``WPM_*``
variable applies too, so ``WPM_SLACK_WEBHOOK_URL=... make demo`` posts to a real channel.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.request

from werkzeug.serving import WSGIRequestHandler, make_server

from flask_wpm import WPM
from web_performance_monitor.events import Alert
from web_performance_monitor.notifiers import Notifier


class PrintNotifier(Notifier):
    """Prints each alert's summary: the text a chat channel gets."""

    name = "print"

    def send(self, alert: Alert) -> None:
        print("\n--- the alert a chat channel would get ---\n" + alert.message
              + "\n------------------------------------------")

    def send_test(self) -> None:
        print("test alert")


class QuietHandler(WSGIRequestHandler):
    """The development server's handler without its access log: the demo prints its own."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def request(base: str, method: str, path: str, body: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> None:
    """Send one request to the running server and print its status (not its query string:
    the demo sends secrets there, to show that the report masks them)."""
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(base + path, data=data, method=method,
                                  headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(sent, timeout=60) as response:
        print(f"{method} {path.partition('?')[0]} -> {response.status}")


def wpm_list(reports: str) -> None:
    """``wpm list`` on the demo's folder, as a user would run it, once the command exists."""
    if importlib.util.find_spec("web_performance_monitor.__main__") is None:
        return
    print(f"\n$ WPM_LOCAL_OUTPUT_DIR={reports} .venv/bin/wpm list")
    subprocess.run([sys.executable, "-m", "web_performance_monitor", "list"], check=False,
                   env={**os.environ, "WPM_LOCAL_OUTPUT_DIR": reports})


def main() -> None:
    reports = os.environ.setdefault("WPM_LOCAL_OUTPUT_DIR", tempfile.mkdtemp(prefix="wpm-demo-"))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from app import app  # the example app, built on import with the folder set above

    monitor = WPM.get_monitor(app)
    monitor.add_notifier(PrintNotifier())
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving the example app on {base}")
    try:
        for _ in range(3):
            request(base, "GET", "/fast")
        request(base, "GET", "/health")
        request(base, "POST", "/slow?api_key=demo-secret",
                body={"password": "hunter2", "user": "ada"},
                headers={"traceparent":
                         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
        # Slow again: the same endpoint within alert_window_days is counted, not alerted.
        request(base, "POST", "/slow", body={"user": "bob"})
        request(base, "GET", "/slow?rounds=20000")  # another endpoint: its own alert
    finally:
        server.shutdown()
    monitor.flush()
    stats = monitor.get_stats()
    print(f"\nservice {monitor.service_name} ({monitor.framework}): "
          f"{stats['total_requests']} requests, {stats['slow_requests']} slow, "
          f"{stats['alerts_sent']} alerted, {stats['alerts_suppressed']} held back by the window")
    found = sorted(glob.glob(os.path.join(reports, "wpm_*.html")))
    if not found:
        sys.exit("no report was written: see the log lines above")
    for report in found:
        print(f"report: {report}")
    index = os.path.join(reports, "index.html")
    if os.path.exists(index):
        print(f"index of every alert: {index}")
    print("open them in a browser: each is a single self-contained HTML file")
    wpm_list(reports)


if __name__ == "__main__":
    main()
