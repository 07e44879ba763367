"""The Flask + Flask-SQLAlchemy example's N+1 view: the alert says why it was slow (issue 15)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("flask_sqlalchemy")

from flask_wpm import WPM
from tests.conftest import RecordingNotifier


def test_the_headline_names_the_lazy_load_its_count_and_line(
        load_example: Callable[[str], ModuleType],
        tmp_path: Path, report_dir: Path, recorder: RecordingNotifier,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMPLE_DB", str(tmp_path / "example.db"))
    monkeypatch.setenv("WPM_LOCAL_OUTPUT_DIR", str(report_dir))
    example = load_example("flask_sqlalchemy_app")
    app = example.create_app()
    monitor = WPM.get_monitor(app)
    monitor.add_notifier(recorder)
    try:
        assert app.test_client().get("/authors").status_code == 200
        assert monitor.flush()
    finally:  # its sampler must not outlive the test (the process has one sampler thread)
        monitor.close(final=True)
    [alert] = recorder.alerts
    [line] = [n for n, text in enumerate(Path(example.__file__).read_text().splitlines(), 1)
              if text.rstrip().endswith("# N+1")]
    assert re.search(rf"N\+1: `SELECT .*FROM book WHERE \? = book.author_id` ×{example.AUTHORS} "
                     rf"at `flask_sqlalchemy_app/app.py:{line}`", alert.headline), alert.headline
    assert alert.message.splitlines()[0] == alert.headline
