"""Flask + Flask-SQLAlchemy: a view's queries reach its report with the view's line."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("flask_sqlalchemy")

from flask import Flask

from flask_wpm import WPM
from tests.conftest import RecordingNotifier
from tests.flask import sqlalchemy_app


@pytest.fixture
def app(report_dir: Path, tmp_path: Path, recorder: RecordingNotifier) -> Iterator[Flask]:
    app = sqlalchemy_app.create_app(report_dir, tmp_path / "app.db")
    WPM.get_monitor(app).add_notifier(recorder)
    yield app
    WPM.get_monitor(app).close()


def test_the_n_plus_one_of_a_view_is_in_its_report_with_the_views_line(
        app: Flask, recorder: RecordingNotifier) -> None:
    response = app.test_client().get("/authors")
    assert response.json == {f"author {i}": [f"book {i}"] for i in range(4)}
    WPM.get_monitor(app).flush()
    [alert] = recorder.alerts
    captured = alert.event.captured
    assert captured is not None  # the seeding at start-up, outside any request, is not in it
    first, *lazy_loads = captured.queries
    assert "FROM author" in first.statement and len(lazy_loads) == 4
    with open(sqlalchemy_app.__file__) as source:
        [line] = [n for n, text in enumerate(source, 1) if text.rstrip().endswith("# N+1 line")]
    assert {(q.site, q.vendor) for q in lazy_loads} == {
        ((sqlalchemy_app.__file__, "create_app.<locals>.authors", line), "sqlite")}
    assert all("FROM book" in q.statement for q in lazy_loads)


def test_the_flask_sqlalchemy_examples_n_plus_one_names_its_line(
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
        response = app.test_client().get("/authors")
        assert response.json == {"authors": example.AUTHORS, "books": 3 * example.AUTHORS}
        monitor.flush()
    finally:
        monitor.close()
    captured = recorder.alerts[0].event.captured
    assert captured is not None
    with open(example.__file__) as source:
        [line] = [n for n, text in enumerate(source, 1) if text.rstrip().endswith("# N+1")]
    lazy = [q for q in captured.queries if "FROM book" in q.statement]
    assert len(lazy) == example.AUTHORS
    assert {q.site for q in lazy} == {(example.__file__, "create_app.<locals>.authors", line)}
    alert = recorder.alerts[0]  # and the alert says so first
    assert re.search(rf"N\+1: `SELECT .*FROM book WHERE \? = book.author_id` ×{example.AUTHORS} "
                     rf"at `flask_sqlalchemy_app/app.py:{line}`", alert.headline), alert.headline
    assert alert.message.splitlines()[0] == alert.headline
