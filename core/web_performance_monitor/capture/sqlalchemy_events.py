"""SQL queries through SQLAlchemy 1.4/2.x: cursor event listeners on the ``Engine`` class.

``before_cursor_execute`` / ``after_cursor_execute`` / ``handle_error`` (SQLAlchemy's
``ConnectionEvents``), listened to on the ``Engine`` class once per process (``install``), so
every engine sees them: plain engines, Flask-SQLAlchemy's, and async engines, whose statements
run on their ``sync_engine``. The way sentry-python's SQLAlchemy integration does it
(``sentry_sdk/integrations/sqlalchemy.py``); no ORM method is patched.

A statement's pending record (the request's ``Captured`` and the start time) lives on its
``ExecutionContext`` (on ``conn.info`` for the few statements SQLAlchemy runs without one,
sequences and column defaults), never in a global: statements of other threads, tasks and
greenlets cannot mix. ``after_cursor_execute`` records it; a statement that raised gets no
``after`` event, so ``handle_error`` records it with the exception type the application sees.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..masking import Masker
from .sql import FAILED, options, record, row_count
from .sql import _running as running

_perf = time.perf_counter
_ATTRIBUTE = "_wpm_pending"  # on an ExecutionContext: (Captured, start) of its statement
_INFO_KEY = "wpm_pending"  # in conn.info, for a statement without an ExecutionContext
_NAME = "_wpm_name"  # on an Engine: its name as reports show it
_masker = Masker()
_installed = False  # the listeners are on the Engine class (once per process)


def engine_name(engine: Any) -> str:
    """How an engine is named in a report: dialect+driver, host, port and database, never the
    user, the password or the query (``postgresql+psycopg://db.internal:5432/shop``), and
    masked by the core's policy besides. Worked out once per engine."""
    name: str | None = engine.__dict__.get(_NAME)
    if name is None:
        url = engine.url
        port = f":{url.port}" if url.port else ""
        database = f"/{url.database}" if url.database else ""
        name = _masker.text(f"{url.drivername}://{url.host or ''}{port}{database}")
        engine.__dict__[_NAME] = name
    return name


def _pending(conn: Any, context: Any) -> Any:
    """The statement's (Captured, start), taken off where ``_before`` put it (None if none)."""
    if context is None:
        return conn.info.pop(_INFO_KEY, None)
    return context.__dict__.pop(_ATTRIBUTE, None)


def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
            executemany: bool) -> tuple[str, Any]:
    """Note the start of a statement of a monitored request. Listened to with ``retval=True``
    (no wrapper of SQLAlchemy's around it on every statement): returns the statement and its
    parameters unchanged, as SQLAlchemy then requires."""
    captured = running()
    if captured is not None:
        try:
            pending = (captured, _perf())
            if context is None:
                conn.info[_INFO_KEY] = pending
            else:
                context.__dict__[_ATTRIBUTE] = pending
        except Exception as exc:
            options.report_error(FAILED, exc)
    return statement, parameters


def _rows(parameters: Any, context: Any) -> int | None:
    """An executemany's number of rows: its parameter sets. An "insertmanyvalues" batch
    (SQLAlchemy 2.x: many rows in one ``INSERT ... VALUES (...), (...)``) passes the rows'
    parameters as one flat sequence or mapping instead: its rows are their number over the
    parameters of one row (None when that does not divide)."""
    if isinstance(parameters, (list, tuple)) and (
            not parameters or isinstance(parameters[0], (list, tuple, dict))):
        return row_count(parameters)
    compiled = getattr(context, "compiled_parameters", None)
    per_row = len(compiled[0]) if compiled else 0
    if not per_row or row_count(parameters) is None or len(parameters) % per_row:
        return None
    return len(parameters) // per_row


def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
           executemany: bool) -> None:
    try:
        pending = _pending(conn, context)
        if pending is None:  # the request started while it ran, or capture is off
            return
        captured, start = pending
        duration = _perf() - start
        record(captured, statement, start, duration, engine_name(conn.engine),
               conn.dialect.name, parameters, executemany,
               _rows(parameters, context) if executemany else None, None)
    except Exception as exc:
        options.report_error(FAILED, exc)


def _handle_error(exception_context: Any) -> None:
    try:
        context = exception_context.execution_context
        conn = exception_context.connection
        if conn is None:
            return
        pending = _pending(conn, context)
        if pending is None:
            return
        captured, start = pending
        duration = _perf() - start
        many = bool(getattr(context, "executemany", False))
        parameters = exception_context.parameters
        error = exception_context.sqlalchemy_exception or exception_context.original_exception
        record(captured, exception_context.statement or "", start, duration,
               engine_name(conn.engine), conn.dialect.name, parameters, many,
               _rows(parameters, context) if many else None, error)
    except Exception as exc:
        options.report_error(FAILED, exc)


def install() -> bool:
    """Listen to every engine's cursor events, once per process; False while the application
    has not imported SQLAlchemy (importing it here would cost every process that never uses it
    its memory; the monitor asks again every ``CHECK_EVERY`` requests)."""
    global _installed
    if _installed:
        return True
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", _before, retval=True)
    event.listen(Engine, "after_cursor_execute", _after)
    event.listen(Engine, "handle_error", _handle_error)
    _installed = True
    return True
