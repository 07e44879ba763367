"""SQL statements without their values: one text for grouping and for display.

``normalise`` replaces every literal of a statement with ``?``: strings (``'...'`` with
doubled quotes, ``E'...'``/``N'...'``/``X'...'``/``B'...'`` prefixes, MySQL's backslash escapes
and double-quoted strings), dollar-quoted bodies (``$tag$...$tag$``), numbers and hex numbers;
driver placeholders (``%s``, ``%(name)s``, ``?``, ``:name``, ``$1``) become ``?`` too, and
comments are removed (sqlcommenter's tags, hints, anything a developer wrote there). An ``IN``
list becomes ``IN (...)`` and the rows of a multi-row ``VALUES`` collapse to the first one, so
``IN (1, 2)`` and ``IN (3)`` are one statement. A password written into the SQL text therefore
never reaches a report, a log line or a chat message.

The rules follow the SQL standard and PostgreSQL's lexical structure (``'it''s'``, standard
conforming strings: a backslash is an ordinary character outside ``E'...'``); for MySQL and
MariaDB a backslash escapes and ``"..."`` is a string (their default ``sql_mode``). An
unterminated string or comment runs to the end of the text (it is all replaced), so a quote
that fools the lexer hides more, never less.

Grouping idea: django-debug-toolbar's "similar" queries (``debug_toolbar/panels/sql/``) and
Sentry's span descriptions; this module has no dependency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_INPUT = 100_000  # characters of a statement looked at (the rest counts as one literal)
MAX_SHOWN = 2_000  # characters of a normalised statement kept for display

_BACKSLASH_VENDORS = frozenset({"mysql", "mariadb"})

# One lexer per dialect family; a token's group names what it is. Order matters: comments
# and strings before identifiers and numbers, ``::`` (a cast) before ``:name``.
_TOKENS = r"""
 (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z){mysql_comment})
|(?P<dollar>\$(?P<tag>[^\W\d]\w*|)\$.*?(?:\$(?P=tag)\$|\Z))
|(?P<string>[Ee]'(?:[^'\\]|''|\\.)*(?:'|\Z){strings})
|(?P<op>=|<>|!=|<=|>=|<|>|\b(?:LIKE|ILIKE)\b)
|(?P<ident>{quoted_ident}`[^`]*(?:`|\Z)|[^\W\d][\w$]*)
|(?P<hex>0[xX][0-9A-Fa-f]+)
|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
|(?P<cast>::)
|(?P<param>%\([^)]{{0,100}}\)s|%s|\?|:[^\W\d]\w*|:\d+|\$\d+)
|(?P<space>\s+)
"""
_LEXERS = {
    # Standard SQL (PostgreSQL, SQLite, Oracle...): '' escapes a quote, "x" is a name.
    False: re.compile(_TOKENS.format(
        mysql_comment="",
        strings=r"|(?:[NnBbXxUu]&?)?'(?:[^']|'')*(?:'|\Z)",
        quoted_ident=r'"(?:[^"]|"")*(?:"|\Z)|'), re.S | re.X | re.I),
    # MySQL and MariaDB: a backslash escapes, "x" is a string, # starts a comment.
    True: re.compile(_TOKENS.format(
        mysql_comment=r"|\#[^\n]*",
        strings=r"""|(?:[NnBbXx]|_\w+)?'(?:[^'\\]|''|\\.)*(?:'|\Z)|"(?:[^"\\]|""|\\.)*(?:"|\Z)""",
        quoted_ident=""), re.S | re.X | re.I),
}
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.I)
_ROWS = re.compile(r"(\(\s*\?(?:\s*,\s*\?)*\s*\))(?:\s*,\s*\(\s*\?(?:\s*,\s*\?)*\s*\))+")
_SPACES = re.compile(r"\s+")
_INSERT_COLUMNS = re.compile(r"\bINSERT\s+INTO\s+\S+\s*\(([^()]*)\)\s*VALUES\s*\(", re.I)


@dataclass(frozen=True, slots=True)
class Statement:
    """A normalised statement.

    ``text``: literals and placeholders as ``?``, comments removed, whitespace collapsed,
    at most ``MAX_SHOWN`` characters (then ending in ``…``). ``placeholders``: the driver's
    placeholders in order, each named by the column it is compared with or inserted into
    (``password = %s`` -> ``"password"``), None where no column is at hand; parameter masking
    uses those names. ``has_placeholders``: whether the statement takes parameters at all (a
    statement without any is fully known from its text: two equal ones are duplicates).
    """

    text: str
    placeholders: tuple[str | None, ...]

    @property
    def has_placeholders(self) -> bool:
        return bool(self.placeholders)


def _unquote(identifier: str) -> str:
    return identifier.strip('"`[]').rsplit(".", 1)[-1].strip('"`[]')


@lru_cache(maxsize=2048)
def normalise(statement: str, vendor: str = "") -> Statement:
    """``statement`` without its values (see the module's docstring); cached: an N+1 loop
    repeats one text a thousand times."""
    lexer = _LEXERS[vendor.lower() in _BACKSLASH_VENDORS]
    source = statement[:MAX_INPUT]
    if len(statement) > MAX_INPUT:
        source += "'"  # the cut tail counts as one unterminated literal: replaced
    out: list[str] = []
    names: list[str | None] = []
    last_ident: str | None = None  # the identifier before an operator, while it applies
    compared = False  # an operator follows ``last_ident``
    position = 0
    for match in lexer.finditer(source):
        if match.start() > position:  # punctuation the lexer has no token for
            out.append(source[position:match.start()])
            last_ident, compared = None, False
        position = match.end()
        kind = match.lastgroup
        if kind in ("space", "comment"):
            out.append(" ")
        elif kind in ("dollar", "string", "hex", "number"):
            out.append("?")
            last_ident, compared = None, False
        elif kind == "param":
            out.append("?")
            names.append(last_ident if compared else None)
            last_ident, compared = None, False
        elif kind == "ident":
            out.append(match.group())
            last_ident, compared = _unquote(match.group()), False
        elif kind == "op":
            out.append(match.group())
            compared = last_ident is not None
        else:  # cast
            out.append(match.group())
            last_ident, compared = None, False
    out.append(source[position:])
    text = _SPACES.sub(" ", "".join(out)).strip()
    text = _ROWS.sub(r"\1 ...", _IN_LIST.sub("IN (...)", text))
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN - 1] + "…"
    return Statement(text, _insert_columns(source, tuple(names)))


def _insert_columns(source: str, names: tuple[str | None, ...]) -> tuple[str | None, ...]:
    """``INSERT INTO t (a, b) VALUES (%s, %s)``: the placeholders named by the column list."""
    match = _INSERT_COLUMNS.search(source)
    if match is None or not names:
        return names
    columns = [_unquote(column.strip()) for column in match.group(1).split(",")]
    width = len(columns)
    return tuple(name if name is not None else columns[i % width]
                 for i, name in enumerate(names))
