"""The report as a file in ``local_output_dir``, with a bounded folder."""

from __future__ import annotations

import os
import tempfile
import time

from ..events import Alert
from ..report import REPORT_PREFIX, REPORT_SUFFIX, encode_text
from .base import Notifier


class LocalFileNotifier(Notifier):
    name = "local_file"
    local = True

    def __init__(self, directory: str, keep: int = 500, max_age_days: float = 30) -> None:
        self.directory = os.path.abspath(directory)
        self.keep = keep
        self.max_age_days = max_age_days

    def send(self, alert: Alert) -> None:
        alert.report_path = write_atomically(self.directory, alert.filename,
                                             encode_text(alert.html))
        try:  # the report is written: a failure to prune is logged, not a failed delivery
            prune_reports(self.directory, self.keep, self.max_age_days)
        except OSError as exc:
            self.report_error("pruning old reports", exc)

    def send_test(self) -> None:
        """Prove the folder is writable: write and remove a probe file."""
        name = f".wpm-test-{os.getpid()}-{time.monotonic_ns()}"
        path = write_atomically(self.directory, name.lstrip("."), b"web-performance-monitor test")
        os.unlink(path)


def write_atomically(directory: str, filename: str, content: bytes, mode: int = 0o640) -> str:
    """Write ``content`` to ``directory/filename`` via a temp file and rename; returns the path."""
    if os.path.basename(filename) != filename or filename.startswith("."):
        raise ValueError(f"unsafe report file name {filename!r}")
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, filename)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".wpm-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(content)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return target


def prune_reports(directory: str, keep: int, max_age_days: float) -> int:
    """Delete this library's oldest reports beyond ``keep`` files or ``max_age_days`` (0 = off)."""
    entries = []
    with os.scandir(directory) as it:
        for entry in it:
            if entry.name.startswith(REPORT_PREFIX) and entry.name.endswith(REPORT_SUFFIX):
                try:
                    entries.append((entry.stat().st_mtime, entry.path))
                except FileNotFoundError:  # removed meanwhile
                    continue
    entries.sort(reverse=True)
    cutoff = time.time() - max_age_days * 86400 if max_age_days else None
    doomed = [path for i, (mtime, path) in enumerate(entries)
              if (keep and i >= keep) or (cutoff is not None and mtime < cutoff)]
    removed = 0
    for path in doomed:
        try:
            os.unlink(path)
            removed += 1
        except FileNotFoundError:  # another process pruned it first
            continue
    return removed
