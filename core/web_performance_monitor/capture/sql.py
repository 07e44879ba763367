"""SQL queries of the monitored request: what every database hook records, and Django's hook.

A hook runs around every query of the process, monitored or not. Outside a monitored request
or call it costs one ``current()`` (a ``ContextVar`` get) and hands the query on; inside, two
clock reads, the application's line (``app_site``: a dict lookup per frame) and one ``Query``
appended to the request's bounded ``Captured``. Nothing is normalised or masked here: that is
the worker's job, for slow requests only.

Every step of the monitor's own is guarded: a failure is reported (the monitor's error log,
``get_stats()["internal_errors"]["capturing a SQL query"]``) and the query runs, returns and
raises exactly as without the monitor.

Django (``django_execute``): ``connection.execute_wrapper``, Django's documented hook
(docs "Database instrumentation"), put first in each connection's ``execute_wrappers`` so it
times the query as the driver ran it, not other wrappers; the way Scout APM instruments
Django's cursor (``scout_apm/django/instruments/sql.py``), without patching ``cursor``.
SQLAlchemy's cursor events are in ``sqlalchemy_events``.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..log import ErrorLog
from .context import Captured, Query, app_site, current

_perf = time.perf_counter
_getframe = sys._getframe
# Of an ``executemany``'s parameter sets, the first ones kept when parameters are captured
# (the row count is always the whole number).
MAX_PARAMETER_SETS = 20
FAILED = "capturing a SQL query"  # what a failure of a hook is counted as


@dataclass(slots=True)
class SQLOptions:
    """The process's SQL capture settings, from the monitor's config (``configure``).

    One per process, like the hooks (installed once per connection or engine class): with
    several monitors, the last one configured wins.
    """

    enabled: bool = True  # capture_sql
    parameters: bool = False  # capture_sql_parameters
    # Where a hook's own failure goes (the monitor's ``ErrorLog.report``).
    report_error: Callable[[str, BaseException], None] = ErrorLog().report


options = SQLOptions()


def configure(enabled: bool, parameters: bool,
              report_error: Callable[[str, BaseException], None]) -> None:
    """Apply a monitor's ``capture_sql`` and ``capture_sql_parameters`` to every hook."""
    options.enabled = enabled
    options.parameters = parameters
    options.report_error = report_error


def row_count(parameters: Any) -> int | None:
    """An ``executemany``'s number of parameter sets; None for an iterator (no length: it is
    the driver's to consume, never ours)."""
    try:
        return len(parameters)
    except TypeError:
        return None


def _kept_parameters(parameters: Any, many: bool) -> Any:
    """The parameters as recorded when ``capture_sql_parameters`` is on; of an
    ``executemany``, the first ``MAX_PARAMETER_SETS`` sets (None for an iterator)."""
    if not many:
        return parameters
    if isinstance(parameters, (list, tuple)):
        return list(parameters[:MAX_PARAMETER_SETS])
    return None


def record(captured: Captured, statement: str, start: float, duration: float,
           database: str, vendor: str, parameters: Any, many: bool, rows: int | None,
           error: BaseException | None) -> None:
    """Add one query to ``captured``. Never raises (a failure is reported and the query is not
    recorded). ``start`` and ``duration`` are ``perf_counter`` seconds; ``rows`` an
    executemany's number of parameter sets; the site is the innermost application frame of
    the calling thread (this package's frames are skipped)."""
    try:
        captured.add_query(Query(  # positional: this runs for every query of a request
            statement, start, duration, database, vendor, app_site(_getframe(1)), rows,
            _kept_parameters(parameters, many) if options.parameters else None,
            None if error is None else type(error).__qualname__))
    except Exception as exc:
        options.report_error(FAILED, exc)


def _running() -> Captured | None:
    """``current()`` when SQL capture is on, else None; never raises."""
    try:
        return current() if options.enabled else None
    except Exception as exc:
        options.report_error(FAILED, exc)
        return None


# --- Django ---------------------------------------------------------------------------------

def django_execute(alias: str, vendor: str, execute: Callable[..., Any], sql: str, params: Any,
                   many: bool, context: dict[str, Any]) -> Any:
    """A Django execute wrapper, bound to a connection's alias and vendor (``functools.partial``,
    see ``capture_django_queries``): runs the query and records it for the running request.

    Whatever ``execute`` returns or raises is passed on unchanged; a failed query is recorded
    with its exception type (Django's ``django.db`` wrapper of the driver's error).
    """
    try:
        captured = current() if options.enabled else None  # ``_running``, inlined
    except Exception as exc:
        options.report_error(FAILED, exc)
        captured = None
    if captured is None:
        return execute(sql, params, many, context)
    start = _perf()
    try:
        result = execute(sql, params, many, context)
    except BaseException as exc:
        record(captured, sql, start, _perf() - start, alias, vendor, params, many,
               row_count(params) if many else None, exc)
        raise
    record(captured, sql, start, _perf() - start, alias, vendor, params, many,
           row_count(params) if many else None, None)
    return result


def _is_ours(wrapper: object) -> bool:
    return isinstance(wrapper, functools.partial) and wrapper.func is django_execute


def capture_django_queries(connection: Any) -> None:
    """Put ``django_execute`` first in a Django connection's ``execute_wrappers`` (once).

    ``connection`` is a ``django.db`` ``DatabaseWrapper`` (one per alias and thread). Django
    nests the wrappers in list order, so the first one is the outermost: its time includes
    what wrappers entered later add (``connection.execute_wrapper`` blocks of the application
    or a debug toolbar). Inserting at 0 also leaves those blocks' own ``append``/``pop`` pairs
    intact, even when the connection is opened inside one.
    """
    wrappers = connection.execute_wrappers
    if not any(_is_ours(wrapper) for wrapper in wrappers):
        wrappers.insert(0, functools.partial(django_execute, connection.alias,
                                             connection.vendor))
