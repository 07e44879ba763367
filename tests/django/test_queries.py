"""Django: every query of a monitored request, through the execute wrapper django_wpm installs
on each connection of each alias (real SQLite; PostgreSQL where a server binary exists)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.utils import ConnectionHandler
from django.test import AsyncClient, Client, override_settings

from django_wpm import monitor_function, queries
from tests.conftest import RecordingNotifier
from tests.django import query_views
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.capture import Captured
from web_performance_monitor.capture.sql import django_execute

VIEWS = query_views.__file__


def line_of(marker: str) -> int:
    """The line of ``query_views`` that carries the comment ``# marker``."""
    with open(VIEWS) as source:
        [number] = [n for n, line in enumerate(source, 1) if line.rstrip().endswith(f"# {marker}")]
    return number


@pytest.fixture(autouse=True, scope="module")
def _no_connection_left_open() -> Iterator[None]:
    """The other modules' tests use no database: a connection left open here would be
    reached for by Django's ``close_old_connections`` when their requests finish, which
    pytest-django's database blocker refuses."""
    yield
    connections.close_all()


@pytest.fixture
def captured_of(dj_monitor: PerformanceMonitor,
                recorder: RecordingNotifier) -> Callable[[], Captured]:
    """What the request just made captured (its one report's ``SlowEvent.captured``)."""
    def get() -> Captured:
        assert dj_monitor.flush()
        [alert] = recorder.alerts
        assert alert.event.captured is not None
        return alert.event.captured

    return get


def ours(wrapper: object) -> bool:
    return getattr(wrapper, "func", None) is django_execute


@pytest.mark.django_db
def test_the_n_plus_one_queries_of_a_view_carry_the_views_line(
        captured_of: Callable[[], Captured]) -> None:
    list(connection.cursor().execute("SELECT 'before the request'"))
    response = Client().get("/queries/n-plus-one/")
    assert response.status_code == 200
    counts = response.json()
    captured = captured_of()
    first, *repeated = captured.queries
    assert "FROM \"django_content_type\"" in first.statement
    assert len(repeated) == len(counts) >= 4
    assert {(q.site, q.database, q.vendor) for q in repeated} == {
        ((VIEWS, "n_plus_one", line_of("N+1 line")), "default", "sqlite")}
    assert all("auth_permission" in q.statement and q.parameters is None for q in repeated)
    assert not any("before the request" in q.statement for q in captured.queries)


@pytest.mark.django_db
def test_executemany_records_its_row_count(captured_of: Callable[[], Captured]) -> None:
    assert Client().get("/queries/many/").json() == {"rows": 4}
    [create, insert, count] = captured_of().queries
    assert insert.statement.startswith("INSERT INTO wpm_rows") and insert.rows == 4
    assert create.rows is None and count.rows is None


@pytest.mark.django_db
def test_a_failing_query_reaches_the_view_unchanged_and_is_recorded(
        captured_of: Callable[[], Captured]) -> None:
    with pytest.raises(Exception) as unmonitored, connection.cursor() as cursor:
        cursor.execute("SELECT missing FROM nowhere")
    response = Client().get("/queries/failing/")
    kind = type(unmonitored.value)
    assert response.json() == {"raised": f"{kind.__module__}.{kind.__qualname__}",
                               "message": str(unmonitored.value)}
    [query] = captured_of().queries
    assert (query.statement, query.error) == ("SELECT missing FROM nowhere", "OperationalError")


@pytest.mark.django_db(databases=["default", "other"])
def test_every_alias_is_captured_under_its_name(captured_of: Callable[[], Captured]) -> None:
    assert Client().get("/queries/other/").json() == {"answer": 42}
    [query] = captured_of().queries
    assert (query.database, query.site) == (
        "other", (VIEWS, "other_database", line_of("other alias line")))


@pytest.mark.django_db(transaction=True)
def test_an_async_views_orm_calls_through_sync_to_async_are_the_requests(
        captured_of: Callable[[], Captured]) -> None:
    response = asyncio.run(AsyncClient().get("/queries/async/"))
    assert "contenttype" in response.json()["models"]
    [query] = captured_of().queries
    assert query.site == (VIEWS, "_models", line_of("thread line"))


@pytest.mark.django_db
def test_parameters_are_kept_only_when_asked_for(
        wpm_settings: dict[str, object], recorder: RecordingNotifier) -> None:
    with override_settings(WPM={**wpm_settings, "CAPTURE_SQL_PARAMETERS": True}):
        from django_wpm import get_monitor

        monitor = get_monitor()
        monitor.add_notifier(recorder)
        Client().get("/queries/n-plus-one/")
        monitor.flush()
    captured = recorder.alerts[0].event.captured
    assert captured is not None
    assert all(isinstance(q.parameters, (list, tuple)) and q.parameters
               for q in captured.queries[1:])


@pytest.mark.parametrize("broken", ["current", "app_site"])
@pytest.mark.django_db
def test_a_failing_hook_never_changes_the_response(
        dj_monitor: PerformanceMonitor, recorder: RecordingNotifier,
        monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    expected = Client().get("/queries/n-plus-one/")

    def bug(*args: Any) -> Any:
        raise RuntimeError("hook bug")

    monkeypatch.setattr(f"web_performance_monitor.capture.sql.{broken}", bug)
    response = Client().get("/queries/n-plus-one/")
    assert (response.status_code, response.content) == (expected.status_code, expected.content)
    failing = Client().get("/queries/failing/")
    assert failing.json()["raised"] == "django.db.utils.OperationalError"
    assert dj_monitor.get_stats()["internal_errors"]["capturing a SQL query"] >= 1


@pytest.fixture
def handler(tmp_path: Path, django_db_blocker: Any) -> Iterator[Callable[[dict[str, Any]],
                                                                       Any]]:
    """New connections outside Django's test databases (a private ``ConnectionHandler``)."""
    made: list[Any] = []

    def connect(settings: dict[str, Any]) -> Any:
        conn = ConnectionHandler({"default": {"ENGINE": "django.db.backends.dummy"},
                                  "extra": settings})["extra"]
        made.append(conn)
        return conn

    with django_db_blocker.unblock():
        yield connect
        for conn in made:
            conn.close()


def test_a_new_connection_gets_the_wrapper_first_and_once(
        handler: Callable[[dict[str, Any]], Any], tmp_path: Path) -> None:
    conn = handler({"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "x.db")})
    assert not any(ours(w) for w in conn.execute_wrappers)

    def theirs(execute: Any, *args: Any) -> Any:
        return execute(*args)

    with conn.execute_wrapper(theirs):
        conn.ensure_connection()  # connection_created: installed
        conn.close()
        conn.ensure_connection()  # again: not twice
        assert [ours(w) for w in conn.execute_wrappers] == [True, False]
        assert conn.execute_wrappers[-1] is theirs
    assert [ours(w) for w in conn.execute_wrappers] == [True]


@pytest.mark.django_db
def test_ready_covers_open_connections_unless_capture_sql_is_off(
        wpm_settings: dict[str, object]) -> None:
    """``install`` (what the app's ``ready()`` runs) on the connections already made."""
    connection.ensure_connection()
    connection.execute_wrappers[:] = [w for w in connection.execute_wrappers if not ours(w)]
    with override_settings(WPM={**wpm_settings, "CAPTURE_SQL": False}):
        assert queries.install() is False
    assert not any(ours(w) for w in connection.execute_wrappers)
    assert queries.install() is True
    assert ours(connection.execute_wrappers[0])


def test_postgresql_queries_are_captured(
        postgres_url: str, handler: Callable[[dict[str, Any]], Any],
        dj_monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    port = int(postgres_url.rsplit(":", 1)[1].split("/")[0])
    conn = handler({"ENGINE": "django.db.backends.postgresql", "NAME": "postgres",
                    "USER": "wpm", "HOST": "127.0.0.1", "PORT": port})

    @monitor_function(threshold_seconds=0.0)
    def report() -> list[Any]:
        with conn.cursor() as cursor:
            cursor.execute("SELECT %s::int + 1", [41])
            rows = cursor.fetchall()
            cursor.execute("CREATE TEMP TABLE wpm_pg (x int)")
            cursor.executemany("INSERT INTO wpm_pg (x) VALUES (%s)", [(1,), (2,), (3,)])
            with pytest.raises(Exception, match="no_such_column"):
                cursor.execute("SELECT no_such_column FROM pg_class")
        return rows

    assert report() == [(42,)]
    dj_monitor.flush()
    captured = recorder.alerts[0].event.captured
    assert captured is not None
    select, _, insert, failed = captured.queries
    assert (select.database, select.vendor, select.site is not None) == ("extra", "postgresql",
                                                                         True)
    assert insert.rows == 3
    assert failed.error == "ProgrammingError"


EXAMPLE = """
import json
import django

django.setup()
from django.test import Client

from catalog.views import _seed
from django_wpm import get_monitor
from web_performance_monitor.notifiers import Notifier


class Keep(Notifier):
    name = "keep"
    alerts = []

    def send(self, alert):
        self.alerts.append(alert)

    def send_test(self):
        pass


_seed()  # outside any request: not captured
get_monitor().add_notifier(Keep())
assert Client(HTTP_HOST="localhost").get("/products/1/report/").status_code == 200
get_monitor().flush()
captured = Keep.alerts[0].event.captured
print(json.dumps({"kept": len(captured.queries), "dropped": captured.queries_dropped,
                  "reviews": sorted({q.site[0] + ":" + str(q.site[2]) for q in captured.queries
                                     if "catalog_review" in q.statement})}))
"""


def test_the_example_projects_n_plus_one_names_catalog_views(tmp_path: Path,
                                                            report_dir: Path) -> None:
    """The example project's N+1 view (2,413 queries): the first 1,000 kept, the rest counted,
    the repeated review query at its line of ``catalog/views.py``."""
    project = Path(__file__).resolve().parents[2] / "example_projects" / "django_project"
    root = project.parents[1]
    env = {**os.environ, "EXAMPLE_DB": str(tmp_path / "db.sqlite3"),
           "EXAMPLE_REPORT_DIR": str(report_dir), "DJANGO_SETTINGS_MODULE": "mysite.settings",
           "PYTHONPATH": os.pathsep.join([str(project), str(root / "core"), str(root)])}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=project, env=env,
                   check=True)
    done = subprocess.run([sys.executable, "-c", EXAMPLE], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    views = project / "catalog" / "views.py"
    [line] = [n for n, text in enumerate(views.read_text().splitlines(), 1)
              if "product.reviews.all()" in text]
    # _seed's exists(), then 12 times: the products, and each product's reviews
    assert (result["kept"], result["dropped"]) == (1000, 1 + 12 * (1 + 200) - 1000)
    assert result["reviews"] == [f"{views}:{line}"]
