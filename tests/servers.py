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


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """``os.environ`` with ``env`` over it, and this tree (the core and the adapters) first on
    ``PYTHONPATH``, before the paths ``env`` names: a subprocess tests the code under test even
    where the venv has another checkout installed in editable mode."""
    merged = {**os.environ, **env}
    paths = [str(ROOT / "core"), str(ROOT), *filter(None, [merged.get("PYTHONPATH")])]
    merged["PYTHONPATH"] = os.pathsep.join(paths)
    return merged


@contextmanager
def serve(argv: list[str], *, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Run ``argv`` (``{port}`` is replaced by a free port); yields the base URL.

    The server imports this tree's packages first (``subprocess_env``), not an installed copy.
    """
    port = free_port()
    command = [part.format(port=port) for part in argv]
    proc = subprocess.Popen(command, cwd=cwd, env=subprocess_env(env),
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
                row = conn.execute("SELECT sum(suppressed) FROM wpm_windows WHERE endpoint = ?",
                                   (endpoint,)).fetchone()
        except sqlite3.OperationalError:  # the workers have not created the table yet
            continue
        suppressed = -1 if row[0] is None else row[0]
