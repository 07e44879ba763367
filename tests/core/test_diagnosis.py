"""Why it was slow, in one sentence: N+1, slow queries, calls, the user's own line (issue 15)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from web_performance_monitor.capture import Captured
from web_performance_monitor.capture.context import Call, Query, Site
from web_performance_monitor.diagnosis import Diagnosis, Rules, diagnose
from web_performance_monitor.masking import MASK, Masker
from web_performance_monitor.profiling.base import HotLine

VIEWS = "/srv/shop/catalog/views.py"
LOOP: Site = (VIEWS, "product_list", 27)
LIST: Site = (VIEWS, "product_list", 16)
REVIEWS = ('SELECT "catalog_review"."id", "catalog_review"."product_id", '
           '"catalog_review"."stars", "catalog_review"."text" FROM "catalog_review" '
           'WHERE "catalog_review"."product_id" = %s')
PYTHON = HotLine("product_list", VIEWS, 16, 0.5, 0.0, "")


def query(statement: str, duration: float = 0.002, site: Site | None = LOOP,
          parameters: object = None, start: float = 0.0) -> Query:
    return Query(statement, start, duration, "default", "sqlite", site, parameters=parameters)


@pytest.fixture
def run() -> Callable[..., Diagnosis]:
    def run(duration: float, queries: list[Query] = [], calls: list[Call] = [],  # noqa: B006
            hot: list[HotLine] = [PYTHON], limit: int = 10_000) -> Diagnosis:  # noqa: B006
        captured = Captured(limit)
        clock = 0.0
        for item in queries:  # back to back, as a loop issues them
            item.start, clock = clock, clock + item.duration
            captured.add_query(item)
        for call in calls:
            captured.add_call(call)
        return diagnose(duration, captured, hot, Masker(), Rules())
    return run


def test_an_n_plus_one_names_the_statement_its_count_and_the_line(
        run: Callable[..., Diagnosis]) -> None:
    queries = [query('SELECT * FROM "catalog_product"', 0.01, LIST)]
    queries += [query(REVIEWS, 0.0027, parameters=None) for _ in range(1000)]
    found = run(3.5, queries)
    assert found.headline_text == (
        "3.50 s: 2.71 s in 1,001 SQL queries (N+1: `SELECT ... FROM \"catalog_review\" WHERE "
        "\"catalog_review\".\"product_id\" = ?` ×1,000 at `catalog/views.py:27`), "
        "0.79 s in Python at `catalog/views.py:16`")
    [n_plus_one] = found.n_plus_one
    assert (n_plus_one.repeats, n_plus_one.site) == (1000, LOOP)
    group = found.queries[0]
    assert (group.count, group.n_plus_one, group.site, group.sites) == (1000, True, LOOP, 1)
    assert group.duplicates is None  # parameters were not captured: unknown, not guessed


def test_a_loop_on_a_fast_database_is_an_n_plus_one_by_the_loops_time() -> None:
    """600 lazy loads of 80 µs each (0.05 s of SQL) with the ORM's row work between them: the
    loop lasts 0.3 s, so it is an N+1 though its SQL time alone is under the threshold."""
    captured = Captured(10_000)
    for n in range(600):
        captured.add_query(query(REVIEWS, 0.00008, start=n * 0.0005))
    found = diagnose(0.4, captured, [PYTHON], Masker(), Rules())
    [loop] = found.n_plus_one
    assert (loop.repeats, loop.site) == (600, LOOP)
    assert loop.total == pytest.approx(0.048) and loop.span == pytest.approx(0.29958)


def test_below_the_thresholds_it_is_no_n_plus_one(run: Callable[..., Diagnosis]) -> None:
    few = run(1.0, [query(REVIEWS, 0.1) for _ in range(4)])  # 4 repeats < 5
    fast = run(1.0, [query(REVIEWS, 0.0009) for _ in range(50)])  # 0.045 s < 0.05 s
    spread = run(1.0, [query(REVIEWS, 0.05, (VIEWS, "f", line)) for line in range(10)])
    assert not few.n_plus_one and not fast.n_plus_one and not spread.n_plus_one
    assert spread.queries[0].sites == 10


def test_a_slow_single_query_is_named_with_its_time(run: Callable[..., Diagnosis]) -> None:
    found = run(2.0, [query("SELECT * FROM big WHERE note LIKE '%x%'", 1.2, LIST),
                      query("SELECT 1", 0.001)])
    assert found.headline_text == ("2.00 s: 1.20 s in 2 SQL queries (slowest: "
                                   "`SELECT * FROM big WHERE note LIKE ?` 1.20 s at "
                                   "`catalog/views.py:16`), 0.80 s in Python at "
                                   "`catalog/views.py:16`")
    assert found.queries[0].slow == 1 and found.queries[1].slow == 0


def test_calls_are_grouped_masked_and_named(run: Callable[..., Diagnosis]) -> None:
    calls = [Call("get", f"https://api.example.com/users/{n}?api_key=S3CRET&page=2", 0.0, 0.4,
                  "requests", LOOP, 200) for n in range(3)]
    found = run(1.5, calls=calls)
    [group] = found.calls
    assert (group.method, group.url, group.count, group.statuses) == (
        "GET", "https://api.example.com/users/{id}?…", 3, [200])
    assert found.headline_text == (
        "1.50 s: 1.20 s in 3 HTTP calls (slowest: `GET https://api.example.com/users/{id}?…` "
        "0.40 s at `catalog/views.py:27`), 0.30 s in Python at `catalog/views.py:16`")
    assert "S3CRET" not in repr(found)


def test_without_queries_or_calls_it_names_the_python_line(
        run: Callable[..., Diagnosis]) -> None:
    computing = run(0.6, hot=[PYTHON])
    assert computing.headline_text == "0.60 s: 0.60 s in Python at `catalog/views.py:16`"
    sleeping = HotLine("slow_view", VIEWS, 40, 2.9, 2.9, "")
    waiting = run(3.0, hot=[sleeping, PYTHON])
    assert waiting.headline_text == "3.00 s: 2.90 s waiting at `catalog/views.py:40`"
    nothing = run(0.2, hot=[])
    assert nothing.headline_text == "0.20 s: 0.20 s in Python (no line sampled)"


def test_duplicates_need_the_parameters_or_a_statement_without_any(
        run: Callable[..., Diagnosis]) -> None:
    same = [query(REVIEWS, parameters=(7,)) for _ in range(3)] + [query(REVIEWS, parameters=(8,))]
    assert run(1.0, same).queries[0].duplicates == 2
    inline = [query("SELECT * FROM t WHERE id = 5") for _ in range(3)]
    inline.append(query("SELECT * FROM t WHERE id = 6"))
    assert run(1.0, inline).queries[0].duplicates == 2  # the text is all there is: known


def test_queries_are_grouped_by_normalised_statement(run: Callable[..., Diagnosis]) -> None:
    found = run(1.0, [query("SELECT * FROM t WHERE id = 1", 0.1, LIST),
                      query("SELECT * FROM t WHERE id = 2", 0.3, LOOP),
                      query("SELECT * FROM t WHERE id = 3", 0.2, LOOP),
                      query("UPDATE t SET n = n + 1", 0.05)])
    first, second = found.queries
    assert (first.statement, first.count, first.max, first.site, first.sites) == (
        "SELECT * FROM t WHERE id = ?", 3, 0.3, LOOP, 2)
    assert first.total == pytest.approx(0.6)
    assert (second.statement, second.count) == ("UPDATE t SET n = n + ?", 1)


def test_queries_beyond_the_limit_are_counted_in_the_totals(
        run: Callable[..., Diagnosis]) -> None:
    found = run(9.0, [query("SELECT 1", 0.001) for _ in range(5000)], limit=1000)
    assert (found.sql_count, found.queries_dropped) == (5000, 4000)
    assert found.sql_seconds == pytest.approx(5.0)
    assert found.queries[0].count == 1000
    assert found.headline_text.startswith(  # an N+1 counted among the kept ones says so
        "9.00 s: 5.00 s in 5,000 SQL queries (N+1: `SELECT ?` ×1,000 of the first 1,000 kept "
        "at `catalog/views.py:27`)")


def test_parameters_are_masked_by_column_and_by_content() -> None:
    captured = Captured()
    captured.add_query(query('SELECT * FROM "users" WHERE "users"."password" = %s AND id = %s',
                             parameters=("hunter2", 7)))
    captured.add_query(query("SELECT * FROM tokens WHERE raw = %s",
                             parameters=("https://x.example/cb?token=abc123",)))
    captured.add_query(query("INSERT INTO users (name, api_key) VALUES (%s, %s)",
                             parameters=[("ann", "k-1"), ("bob", "k-2")]))
    found = diagnose(1.0, captured, [], Masker(), Rules())
    text = repr([group.parameters for group in found.queries])
    assert "hunter2" not in text and "abc123" not in text and "k-1" not in text
    assert f"['{MASK}', 7]" in text and "'ann'" in text
