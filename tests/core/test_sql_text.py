"""SQL statements are grouped and shown without their values (issue 15)."""

from __future__ import annotations

import pytest

from web_performance_monitor.sql_text import MAX_INPUT, MAX_SHOWN, normalise


@pytest.mark.parametrize(("statement", "vendor", "expected"), [
    ("SELECT * FROM users WHERE name = 'O''Brien' AND age > 42", "",
     "SELECT * FROM users WHERE name = ? AND age > ?"),
    ('SELECT "catalog_review"."id" FROM "catalog_review" '
     'WHERE "catalog_review"."product_id" = %s', "sqlite",
     'SELECT "catalog_review"."id" FROM "catalog_review" WHERE "catalog_review"."product_id" = ?'),
    ("SELECT * FROM t WHERE id IN (1, 2, 3)", "", "SELECT * FROM t WHERE id IN (...)"),
    ("SELECT * FROM t WHERE id IN (%s)", "", "SELECT * FROM t WHERE id IN (...)"),
    ("SELECT * FROM t WHERE id in (?, ?, ?, ?)", "", "SELECT * FROM t WHERE id IN (...)"),
    ("SELECT 0xDEADBEEF, 1.5e10, .5, -7, t1.c2 FROM t1", "",
     "SELECT ?, ?, ?, -?, t1.c2 FROM t1"),
    ("SELECT $body$ it's $1 $body$, $$x$$, x::int FROM t WHERE a = $1", "postgresql",
     "SELECT ?, ?, x::int FROM t WHERE a = ?"),
    ("SELECT a /* app='shop',user='bob' */ FROM t -- where x = 'y'\nWHERE b = :b", "",
     "SELECT a FROM t WHERE b = ?"),
    ("SELECT E'a\\'b', 'C:\\' , 'next' FROM t", "postgresql", "SELECT ?, ? , ? FROM t"),
    ("SELECT 'it\\'s', \"double\" FROM t # trailing", "mysql", "SELECT ?, ? FROM t"),
    ("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s), (%s, %s)", "",
     "INSERT INTO t (a, b) VALUES (?, ?) ..."),
    ("SELECT  *\n\tFROM   t", "", "SELECT * FROM t"),
    ("SELECT N'unicode', X'0F', B'101', U&'d\\0061t' FROM t", "", "SELECT ?, ?, ?, ? FROM t"),
    ("SELECT * FROM t WHERE k = %(key)s", "", "SELECT * FROM t WHERE k = ?"),
])
def test_literals_and_placeholders_become_question_marks(statement: str, vendor: str,
                                                         expected: str) -> None:
    assert normalise(statement, vendor).text == expected


def test_the_same_statement_with_other_values_groups_together() -> None:
    first = normalise("SELECT * FROM t WHERE id = 1 AND tag IN ('a', 'b')")
    second = normalise("SELECT * FROM t WHERE id = 2 AND tag IN ('c')")
    assert first == second


@pytest.mark.parametrize(("statement", "vendor"), [
    ("SELECT * FROM users WHERE password = 'hunter2'", ""),
    ("SELECT * FROM users WHERE password = 'x''hunter2'", "postgresql"),
    ("SELECT * FROM users WHERE password = E'\\'hunter2'", "postgresql"),
    ("SELECT * FROM users WHERE a = 'C:\\' AND password = 'hunter2'", "postgresql"),
    ("SELECT * FROM users WHERE password = 'it\\'s hunter2'", "mysql"),
    ('SELECT * FROM users WHERE password = "hunter2"', "mysql"),
    ("SELECT * FROM users WHERE password = $tag$hunter2$tag$", "postgresql"),
    ("SELECT * FROM users /* hunter2 */ WHERE 1 = 1 -- hunter2", ""),
    ("SELECT * FROM users WHERE password = 'hunter2", ""),  # unterminated: all of it goes
    ("UPDATE users SET pin = 4242 WHERE id = 7", ""),
    ("SELECT ARRAY['hunter2']", "postgresql"),
])
def test_a_secret_written_into_sql_never_survives(statement: str, vendor: str) -> None:
    text = normalise(statement, vendor).text
    assert "hunter2" not in text and "4242" not in text


def test_a_huge_statement_is_bounded_and_its_cut_tail_hidden() -> None:
    statement = "SELECT " + ", ".join(f"col{i}" for i in range(30_000)) + " FROM t"
    text = normalise(statement + " WHERE password = 'hunter2'").text
    assert len(text) <= MAX_SHOWN and text.endswith("…")
    cut = "SELECT '" + "a" * MAX_INPUT + "hunter2'"
    assert "hunter2" not in normalise(cut).text


def test_placeholders_are_named_by_their_columns() -> None:
    where = normalise('SELECT * FROM "auth_user" WHERE "auth_user"."password" = %s AND x > %s '
                      "AND name LIKE %s AND y = 3 OR %s")
    assert where.placeholders == ("password", "x", "name", None)
    insert = normalise("INSERT INTO users (name, password) VALUES (?, ?), (?, ?)")
    assert insert.placeholders == ("name", "password", "name", "password")
    assert not normalise("SELECT 1").has_placeholders
