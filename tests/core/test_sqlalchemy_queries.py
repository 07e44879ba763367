"""SQL queries through SQLAlchemy (sync, async, thread pools) land in the slow request's event.

Real SQLite files and, where a server binary exists, a private PostgreSQL server; the monitor's
own decorator is the request (threshold 0: every call is slow and reported).
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from tests.conftest import RecordingNotifier, random_name  # noqa: E402
from web_performance_monitor import PerformanceMonitor  # noqa: E402
from web_performance_monitor.capture import Captured, Query  # noqa: E402
from web_performance_monitor.capture.sqlalchemy_events import engine_name  # noqa: E402

HERE = __file__
# PostgreSQL through psycopg 3: SQLAlchemy's ``postgresql+psycopg`` dialect (2.0 and later).
needs_psycopg_dialect = pytest.mark.skipif(
    int(sqlalchemy.__version__.split(".")[0]) < 2,
    reason="SQLAlchemy 1.4 has no psycopg 3 dialect (postgresql+psycopg)")


def next_line() -> int:
    """The number of the caller's next line: where the query under test is issued."""
    return sys._getframe(1).f_lineno + 1


def _schema(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(text("CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER, "
                          "title TEXT)"))
        conn.execute(text("INSERT INTO author (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')"))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def engine(db_url: str, monitor: PerformanceMonitor) -> Iterator[Engine]:
    """A SQLite file engine with authors and books, made after the monitor (which installs the
    listeners), outside any request."""
    engine = create_engine(db_url)
    _schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def captured_by(monitor: PerformanceMonitor,
                recorder: RecordingNotifier) -> Callable[..., Captured | None]:
    """Run ``work`` (sync or async) as one monitored call that is always slow; what the call
    captured, as its ``SlowEvent`` carries it."""
    def run(work: Callable[[], Any]) -> Captured | None:
        wrapped = monitor.create_decorator(threshold_seconds=0.0, name=random_name())(work)
        result = wrapped()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
        assert monitor.flush()
        [alert] = recorder.alerts[-1:]
        return alert.event.captured

    return run


def statements(captured: Captured | None) -> list[str]:
    assert captured is not None
    return [query.statement for query in captured.queries]


def test_queries_of_a_monitored_call_are_its_own_with_the_app_line(
        engine: Engine, captured_by: Callable[..., Captured | None]) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 'outside any request'"))
    lines: list[int] = []

    def n_plus_one() -> None:
        with engine.connect() as conn:
            authors = conn.execute(text("SELECT id FROM author ORDER BY id")).all()
            for (author_id,) in authors:
                lines.append(next_line())
                conn.execute(text("SELECT title FROM book WHERE author_id = :a"),
                             {"a": author_id})

    captured = captured_by(n_plus_one)
    assert statements(captured) == ["SELECT id FROM author ORDER BY id",
                                    *["SELECT title FROM book WHERE author_id = ?"] * 3]
    assert captured is not None
    repeated = captured.queries[1:]
    assert {q.site for q in repeated} == {(HERE, "test_queries_of_a_monitored_call_are_its_own_"
                                                 "with_the_app_line.<locals>.n_plus_one",
                                           lines[0])}
    first = captured.queries[0]
    assert first.vendor == "sqlite" and first.database.startswith("sqlite:///")
    assert first.error is None and first.rows is None and first.parameters is None
    assert all(q.duration >= 0 for q in captured.queries)
    assert [q.start for q in captured.queries] == sorted(q.start for q in captured.queries)


def test_a_call_without_queries_captures_nothing(
        engine: Engine, captured_by: Callable[..., Captured | None]) -> None:
    assert captured_by(lambda: None) is None


def test_executemany_records_its_row_count(
        engine: Engine, captured_by: Callable[..., Captured | None]) -> None:
    def bulk() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO book (author_id, title) VALUES (:a, :t)"),
                         [{"a": 1, "t": f"t{i}"} for i in range(7)])

    captured = captured_by(bulk)
    assert captured is not None
    [query] = [q for q in captured.queries if q.statement.startswith("INSERT")]
    assert query.rows == 7


def test_a_failing_query_raises_unchanged_and_is_recorded_with_its_error(
        engine: Engine, captured_by: Callable[..., Captured | None]) -> None:
    with engine.connect() as conn, pytest.raises(OperationalError) as unmonitored:
        conn.execute(text("SELECT missing FROM author"))
    raised: list[BaseException] = []

    def failing() -> None:
        with engine.connect() as conn:
            try:
                conn.execute(text("SELECT missing FROM author"))
            except OperationalError as exc:
                raised.append(exc)

    captured = captured_by(failing)
    [exc] = raised
    assert type(exc) is type(unmonitored.value) and str(exc) == str(unmonitored.value)
    assert captured is not None
    [query] = captured.queries
    assert query.statement == "SELECT missing FROM author"
    assert query.error == "OperationalError"


def test_queries_from_a_thread_pool_are_the_requests(
        engine: Engine, captured_by: Callable[..., Captured | None]) -> None:
    lines: list[int] = []

    def in_thread() -> int:
        with engine.connect() as conn:
            lines.append(next_line())
            return int(conn.execute(text("SELECT count(*) FROM author")).scalar_one())

    async def handler() -> None:
        assert await asyncio.to_thread(in_thread) == 3

    captured = captured_by(handler)
    assert captured is not None
    [query] = captured.queries
    assert query.site is not None and query.site[1:] == (
        "test_queries_from_a_thread_pool_are_the_requests.<locals>.in_thread", lines[0])


def test_an_async_engine_is_captured_with_the_coroutines_line(
        db_url: str, engine: Engine, captured_by: Callable[..., Captured | None]) -> None:
    pytest.importorskip("aiosqlite")
    lines: list[int] = []

    async def handler() -> None:
        async_engine = create_async_engine(db_url.replace("sqlite://", "sqlite+aiosqlite://"))
        try:
            async with async_engine.connect() as conn:
                for author_id in (1, 2):
                    lines.append(next_line())
                    await conn.execute(text("SELECT title FROM book WHERE author_id = :a"),
                                       {"a": author_id})
        finally:
            await async_engine.dispose()

    captured = captured_by(handler)
    assert captured is not None
    assert [(q.statement, q.site) for q in captured.queries] == [
        ("SELECT title FROM book WHERE author_id = ?",
         (HERE, "test_an_async_engine_is_captured_with_the_coroutines_line.<locals>.handler",
          line)) for line in lines]
    assert {q.database for q in captured.queries} == {
        engine_name(create_engine(db_url.replace("sqlite://", "sqlite+aiosqlite://")))}


def test_beyond_max_queries_per_request_queries_are_counted_not_kept(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        db_url: str) -> None:
    monitor = make_monitor(max_queries_per_request=3)
    monitor.add_notifier(recorder)
    engine = create_engine(db_url)

    @monitor.create_decorator(threshold_seconds=0.0)
    def many() -> None:
        with engine.connect() as conn:
            for i in range(5):
                conn.execute(text(f"SELECT {i}"))

    many()
    monitor.flush()
    captured = recorder.alerts[0].event.captured
    assert captured is not None
    assert statements(captured) == ["SELECT 0", "SELECT 1", "SELECT 2"]
    assert captured.queries_dropped == 2 and captured.queries_dropped_seconds > 0


@pytest.mark.parametrize("capture", [False, True])
def test_parameters_are_kept_only_when_asked_for(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        db_url: str, capture: bool) -> None:
    monitor = make_monitor(capture_sql_parameters=capture)
    monitor.add_notifier(recorder)
    engine = create_engine(db_url)
    _schema(engine)

    @monitor.create_decorator(threshold_seconds=0.0)
    def lookup() -> None:
        with engine.begin() as conn:
            conn.execute(text("SELECT id FROM author WHERE name = :n"), {"n": "PARAM-VALUE"})
            conn.execute(insert(sqlalchemy.table("author", sqlalchemy.column("name"))),
                         [{"name": "x"}, {"name": "y"}])

    lookup()
    monitor.flush()
    captured = recorder.alerts[0].event.captured
    assert captured is not None
    single, many = captured.queries
    if capture:
        assert single.parameters == ("PARAM-VALUE",)
        assert many.parameters == [("x",), ("y",)] and many.rows == 2
    else:
        assert single.parameters is None and many.parameters is None and many.rows == 2


def test_capture_sql_off_records_nothing(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        db_url: str) -> None:
    monitor = make_monitor(capture_sql=False)
    monitor.add_notifier(recorder)
    engine = create_engine(db_url)

    @monitor.create_decorator(threshold_seconds=0.0)
    def query() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    query()
    monitor.flush()
    assert recorder.alerts[0].event.captured is None


@pytest.mark.parametrize("broken", ["current", "app_site"])
def test_a_failing_hook_never_changes_the_query_result(
        engine: Engine, monitor: PerformanceMonitor, recorder: RecordingNotifier,
        monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    def bug(*args: Any) -> Any:
        raise RuntimeError("hook bug")

    monkeypatch.setattr(f"web_performance_monitor.capture.sql.{broken}", bug)

    @monitor.create_decorator(threshold_seconds=0.0)
    def query() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT name FROM author ORDER BY id")))

    assert query() == [("a",), ("b",), ("c",)]
    with engine.connect() as conn, pytest.raises(OperationalError):
        conn.execute(text("SELECT missing FROM author"))
    monitor.flush()
    captured = recorder.alerts[0].event.captured
    assert captured is None or captured.queries == []
    assert monitor.get_stats()["internal_errors"]["capturing a SQL query"] >= 1


@needs_psycopg_dialect
def test_the_engine_name_never_shows_user_password_or_query() -> None:
    pytest.importorskip("psycopg")
    engine = create_engine("postgresql+psycopg://app:PW-SECRET@db.internal:5432/shop"
                           "?sslpassword=Q-SECRET&application_name=x")
    assert engine_name(engine) == "postgresql+psycopg://db.internal:5432/shop"


# --- PostgreSQL ---------------------------------------------------------------------------

@needs_psycopg_dialect
def test_postgresql_queries_rows_and_errors(
        postgres_url: str, captured_by: Callable[..., Captured | None]) -> None:
    engine = create_engine(postgres_url)
    table = f"t_{random_name()}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (id SERIAL PRIMARY KEY, name TEXT)"))
    items = sqlalchemy.table(table, sqlalchemy.column("id"), sqlalchemy.column("name"))

    def work() -> None:
        with engine.begin() as conn:
            conn.execute(insert(items), [{"name": f"n{i}"} for i in range(5)])
            # many rows with RETURNING: SQLAlchemy 2's "insertmanyvalues" batch
            conn.execute(insert(items).returning(items.c.id), [{"name": "r1"}, {"name": "r2"}])
            conn.execute(text(f"SELECT name FROM {table} WHERE id = :i"), {"i": 1})
        with engine.connect() as conn, pytest.raises(sqlalchemy.exc.ProgrammingError):
            conn.execute(text("SELECT no_such_column FROM pg_class"))

    captured = captured_by(work)
    engine.dispose()
    assert captured is not None
    queries: dict[str, Query] = {}
    for query in captured.queries:
        queries.setdefault(query.statement.split()[0] + str(query.rows), query)
    assert queries["INSERT5"].vendor == "postgresql"
    assert queries["INSERT5"].database.startswith("postgresql+psycopg://127.0.0.1:")
    assert "INSERT2" in queries
    assert queries["SELECTNone"].site is not None
    [failed] = [q for q in captured.queries if q.error]
    assert failed.error == "ProgrammingError" and "no_such_column" in failed.statement


def test_the_fastapi_async_examples_n_plus_one_names_its_line(
        load_example: Callable[[str], ModuleType],
        tmp_path: Path, report_dir: Path, recorder: RecordingNotifier,
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiosqlite")
    from fastapi.testclient import TestClient

    monkeypatch.setenv("EXAMPLE_DB", str(tmp_path / "example.db"))
    monkeypatch.setenv("WPM_LOCAL_OUTPUT_DIR", str(report_dir))
    monkeypatch.setenv("WPM_ALERT_STORE_URL", "memory://")
    example = load_example("fastapi_sqlalchemy_app")
    path = Path(example.__file__)
    example.monitor.add_notifier(recorder)
    with TestClient(example.app) as client:
        response = client.get("/authors")
        assert response.json() == {"authors": example.AUTHORS, "books": 3 * example.AUTHORS}
        assert example.monitor.flush()
    captured = recorder.alerts[0].event.captured
    assert captured is not None
    [line] = [n for n, text in enumerate(path.read_text().splitlines(), 1)
              if text.rstrip().endswith("# N+1")]
    per_author = [q for q in captured.queries if "WHERE book.author_id" in q.statement]
    assert len(per_author) == example.AUTHORS
    assert {q.site for q in per_author} == {(str(path), "authors", line)}
    alert = recorder.alerts[0]  # and the alert says so first
    assert re.search(r"N\+1: `SELECT .*FROM book WHERE book.author_id = \?` "
                     rf"×{example.AUTHORS} at `fastapi_sqlalchemy_app/app.py:{line}`",
                     alert.headline), alert.headline
    assert alert.facts["queries"]["n_plus_one"][0]["site"]["function"] == "authors"
