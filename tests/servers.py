"""Real servers on 127.0.0.1 for the tests: start, wait, stop, and read the shared alert store."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@contextmanager
def serve(argv: list[str], *, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Run ``argv`` (``{port}`` is replaced by a free port); yields the base URL."""
    port = free_port()
    command = [part.format(port=port) for part in argv]
    # This tree's core first: a venv shared between checkouts maps its editable install to
    # another tree's core.
    path = os.pathsep.join(p for p in (str(ROOT / "core"), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env, "PYTHONPATH": path},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
        text = output.decode(errors="replace")
        assert "Traceback" not in text, text


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


def wait_for_suppressed(store: Path, endpoint: str, expected: int, timeout: float = 30) -> None:
    """Wait until the workers' background threads counted ``expected`` suppressed requests."""
    deadline = time.monotonic() + timeout
    suppressed = -1
    while suppressed != expected:
        assert time.monotonic() < deadline, f"{endpoint}: suppressed stuck at {suppressed}"
        time.sleep(0.1)
        if not store.exists():
            continue
        try:
            with sqlite3.connect(store) as conn:
                row = conn.execute("SELECT suppressed FROM wpm_alerts WHERE endpoint = ?",
                                   (endpoint,)).fetchone()
        except sqlite3.OperationalError:  # the workers have not created the table yet
            continue
        suppressed = row[0] if row else -1
