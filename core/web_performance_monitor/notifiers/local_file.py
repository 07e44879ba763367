"""The report as a file in ``local_output_dir``, with a bounded folder."""

from __future__ import annotations

import os
import time

from ..events import Alert
from ..report import prune_reports, write_atomically
from .base import Notifier


class LocalFileNotifier(Notifier):
    name = "local_file"

    def __init__(self, directory: str, keep: int = 500, max_age_days: float = 30) -> None:
        self.directory = os.path.abspath(directory)
        self.keep = keep
        self.max_age_days = max_age_days

    def send(self, alert: Alert) -> None:
        alert.report_path = write_atomically(self.directory, alert.filename,
                                             alert.html.encode("utf-8"))
        prune_reports(self.directory, self.keep, self.max_age_days)

    def send_test(self) -> None:
        """Prove the folder is writable: write and remove a probe file."""
        name = f".wpm-test-{os.getpid()}-{time.monotonic_ns()}"
        path = write_atomically(self.directory, name.lstrip("."), b"web-performance-monitor test")
        os.unlink(path)
