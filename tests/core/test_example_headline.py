"""The FastAPI example's N+1 on an async SQLAlchemy engine: the alert says why (issue 15)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import RecordingNotifier


def test_the_headline_names_the_awaited_query_its_count_and_line(
        load_example: Callable[[str], ModuleType],
        tmp_path: Path, report_dir: Path, recorder: RecordingNotifier,
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiosqlite")
    from fastapi.testclient import TestClient

    monkeypatch.setenv("EXAMPLE_DB", str(tmp_path / "example.db"))
    monkeypatch.setenv("WPM_LOCAL_OUTPUT_DIR", str(report_dir))
    monkeypatch.setenv("WPM_ALERT_STORE_URL", "memory://")
    example = load_example("fastapi_sqlalchemy_app")
    example.monitor.add_notifier(recorder)
    try:
        with TestClient(example.app) as client:
            assert client.get("/authors").status_code == 200
            assert example.monitor.flush()
    finally:  # its sampler must not outlive the test (the process has one sampler thread)
        example.monitor.close(final=True)
    [alert] = recorder.alerts
    [line] = [n for n, text in enumerate(Path(example.__file__).read_text().splitlines(), 1)
              if text.rstrip().endswith("# N+1")]
    assert re.search(r"N\+1: `SELECT .*FROM book WHERE book.author_id = \?` "
                     rf"×{example.AUTHORS} at `fastapi_sqlalchemy_app/app.py:{line}`",
                     alert.headline), alert.headline
    assert alert.facts["queries"]["n_plus_one"][0]["site"]["function"] == "authors"
