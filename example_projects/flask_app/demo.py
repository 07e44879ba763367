"""`make demo`: start the example Flask app, send it a fast and a slow request, show the report."""

from __future__ import annotations

import glob
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from app import create_app

from flask_wpm import WPM
from web_performance_monitor.events import Alert
from web_performance_monitor.notifiers import Notifier


class PrintNotifier(Notifier):
    """Prints each alert's summary: the same text a Mattermost channel would get."""

    name = "print"

    def send(self, alert: Alert) -> None:
        print("\n--- alert ---\n" + alert.message + "\n-------------")

    def send_test(self) -> None:
        print("test alert")


def main() -> None:
    reports = os.environ.setdefault("WPM_LOCAL_OUTPUT_DIR", tempfile.mkdtemp(prefix="wpm-demo-"))
    app = create_app()
    WPM.get_monitor(app).add_notifier(PrintNotifier())
    client = app.test_client()
    fast = client.get("/fast")
    print(f"GET /fast  -> {fast.status_code}")
    slow = client.post("/slow?api_key=demo-secret", json={"password": "hunter2", "user": "ada"},
                       headers={"traceparent":
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    print(f"POST /slow -> {slow.status_code}")
    monitor = WPM.get_monitor(app)
    monitor.flush()
    stats = monitor.get_stats()
    print(f"requests: {stats['total_requests']}, slow: {stats['slow_requests']}, "
          f"alerts sent: {stats['alerts_sent']}")
    found = sorted(glob.glob(os.path.join(reports, "wpm_*.html")))
    if not found:
        sys.exit("no report was written: see the log above")
    print(f"report: {found[-1]}")
    print("open it in a browser: it is a single self-contained HTML file")


if __name__ == "__main__":
    main()
