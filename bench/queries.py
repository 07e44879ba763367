"""Per-query cost of SQL capture: ``SELECT 1`` on in-memory SQLite, through Django's cursor
and through SQLAlchemy, three ways each, in alternating blocks (median of the rounds):

- ``plain``: no hook at all (Django: the wrapper taken out of ``execute_wrappers``;
  SQLAlchemy: the ``Engine`` listeners removed);
- ``idle``: the hook installed, no monitored request running (what every query of an
  unmonitored process or thread pays: one ``ContextVar`` get);
- ``monitored``: inside a monitored request, each query recorded (a fresh request every
  ``PER_REQUEST`` queries, so every query takes the recording path, none the dropped one).

The target (issue 15): under 2 µs added per monitored query. Times are the thread's CPU time
(``time.thread_time``), not wall-clock time: the driver never waits here (in-memory SQLite),
and CPU time is what another process on a shared machine does not add to. Also timed:
``app_site`` alone, from the Django query's own stack, since it is the part whose cost grows
with stack depth.

    python bench/queries.py [--rounds 15] [--queries 2000] [--instructions]

``--instructions`` also counts the instructions one query costs under valgrind's callgrind
(a few minutes): the same figure run after run, where seconds move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "core")):
    if path not in sys.path:
        sys.path.insert(0, path)

from web_performance_monitor import Config, PerformanceMonitor  # noqa: E402
from web_performance_monitor.capture import context  # noqa: E402

# CPU time of this thread: the machine may be shared, and a preempted block would count
# another process's time as the query's.
_clock = time.thread_time
PER_REQUEST = 500  # queries per monitored "request": below max_queries_per_request
Block = Callable[[int], float]  # runs n queries, returns seconds per query


def _in_requests(run: Callable[[int], None], n: int) -> float:
    """``run`` n queries inside monitored requests of ``PER_REQUEST`` queries each."""
    elapsed = 0.0
    done = 0
    while done < n:
        count = min(PER_REQUEST, n - done)
        slot, holder = context.enter(threading.get_ident())
        start = _clock()
        run(count)
        elapsed += _clock() - start
        context.leave(slot, holder)
        done += count
    return elapsed / n


def _plain(run: Callable[[int], None], n: int) -> float:
    start = _clock()
    run(n)
    return (_clock() - start) / n


def django_blocks() -> dict[str, Block]:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False, SECRET_KEY="bench", INSTALLED_APPS=["django_wpm"], USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        WPM={"LOCAL_OUTPUT_DIR": "/tmp", "ALERT_STORE_URL": "memory://",
             "ENABLE_LOCAL_FILE": False},
    )
    django.setup()
    from django.db import connection

    cursor = connection.cursor()  # connects: the wrapper is installed (connection_created)
    wrappers = list(connection.execute_wrappers)
    assert wrappers, "django_wpm did not install its execute wrapper"

    def run(n: int) -> None:
        for _ in range(n):
            cursor.execute("SELECT 1")

    def without_hook(n: int) -> float:
        connection.execute_wrappers[:] = []
        try:
            return _plain(run, n)
        finally:
            connection.execute_wrappers[:] = wrappers

    return {"plain": without_hook, "idle": lambda n: _plain(run, n),
            "monitored": lambda n: _in_requests(run, n)}


def sqlalchemy_blocks() -> dict[str, Block]:
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.engine import Engine

    from web_performance_monitor.capture import sqlalchemy_events

    sqlalchemy_events.install()  # as the monitor does once the app has imported SQLAlchemy
    listeners = [("before_cursor_execute", sqlalchemy_events._before, True),
                 ("after_cursor_execute", sqlalchemy_events._after, False),
                 ("handle_error", sqlalchemy_events._handle_error, False)]
    statement = text("SELECT 1")

    def connection() -> Any:
        return create_engine("sqlite://").connect()

    def run_on(conn: Any) -> Callable[[int], None]:
        def run(n: int) -> None:
            for _ in range(n):
                conn.execute(statement)
        return run

    def without_hook(n: int) -> float:
        for name, listener, _ in listeners:
            event.remove(Engine, name, listener)
        try:
            with connection() as conn:  # made after the removal: no event dispatch at all
                return _plain(run_on(conn), n)
        finally:
            for name, listener, retval in listeners:
                event.listen(Engine, name, listener, retval=retval)

    def idle(n: int) -> float:
        with connection() as conn:
            return _plain(run_on(conn), n)

    def monitored(n: int) -> float:
        with connection() as conn:
            return _in_requests(run_on(conn), n)

    return {"plain": without_hook, "idle": idle, "monitored": monitored}


def app_site_block() -> Block:
    """``app_site`` from the stack of a Django query (its execute wrapper's caller)."""
    from django.db import connection

    from web_performance_monitor.capture.context import app_site

    frames: list[Any] = []

    def grab(execute: Any, sql: str, params: Any, many: bool, ctx: Any) -> Any:
        frames.append(sys._getframe(1))
        return execute(sql, params, many, ctx)

    with connection.execute_wrapper(grab):
        connection.cursor().execute("SELECT 1")
    frame = frames[0]
    depth = 0
    walker = frame
    while walker is not None:
        depth, walker = depth + 1, walker.f_back
    print(f"(the Django query's stack: {depth} frames from its execute wrapper)")

    def block(n: int) -> float:
        start = _clock()
        for _ in range(n):
            app_site(frame)
        return (_clock() - start) / n

    return block


def measure(blocks: dict[str, Block], queries: int, rounds: int) -> dict[str, float]:
    """Median seconds per query of each block, the blocks alternating round by round."""
    times: dict[str, list[float]] = {name: [] for name in blocks}
    for block in blocks.values():
        block(max(50, queries // 10))  # warm-up
    for r in range(rounds):
        order = list(blocks.items())
        if r % 2:
            order.reverse()
        for name, block in order:
            times[name].append(block(queries))
    return {name: statistics.median(values) for name, values in times.items()}


def run(queries: int = 2000, rounds: int = 15) -> dict[str, dict[str, float]]:
    """Per-query µs of each driver and variant: ``{driver: {variant: µs}}``, printed."""
    monitor = PerformanceMonitor(Config(alert_store_url="memory://", enable_local_file=False))
    results = {"django": measure(django_blocks(), queries, rounds),
               "sqlalchemy": measure(sqlalchemy_blocks(), queries, rounds),
               "app_site": measure({"app_site": app_site_block()}, queries, rounds)}
    monitor.close()
    micro = {driver: {name: seconds * 1e6 for name, seconds in row.items()}
             for driver, row in results.items()}
    print(f"{'driver':<12}{'plain µs':>10}{'idle µs':>10}{'+idle':>8}{'monitored µs':>14}"
          f"{'+monitored':>12}")
    for driver in ("django", "sqlalchemy"):
        row = micro[driver]
        print(f"{driver:<12}{row['plain']:>10.2f}{row['idle']:>10.2f}"
              f"{row['idle'] - row['plain']:>8.2f}{row['monitored']:>14.2f}"
              f"{row['monitored'] - row['plain']:>12.2f}")
    print(f"app_site from a Django query's stack: {micro['app_site']['app_site']:.2f} µs")
    return micro


DRIVERS: dict[str, Callable[[], dict[str, Block]]] = {"django": django_blocks,
                                                      "sqlalchemy": sqlalchemy_blocks}


def _child(driver: str, variant: str, count: int) -> None:
    """One variant's ``count`` queries, in a process of its own (under callgrind)."""
    import gc
    import logging

    logging.disable(logging.CRITICAL)
    monitor = PerformanceMonitor(Config(alert_store_url="memory://", enable_local_file=False))
    block = DRIVERS[driver]()[variant]
    block(PER_REQUEST)
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's sight (as bench/instructions.py)
    block(count)
    monitor.close()


def instructions_per_query() -> dict[str, dict[str, int]]:
    """Instructions one query costs, by driver and variant (callgrind: N + 1000 queries minus
    N), printed: deterministic where the seconds above depend on the machine's load."""
    from bench.callgrind import instructions

    figures: dict[str, dict[str, int]] = {}
    for driver in DRIVERS:
        figures[driver] = {
            variant: (instructions(__file__, "--child", driver, variant, str(PER_REQUEST + 1000))
                      - instructions(__file__, "--child", driver, variant, str(PER_REQUEST)))
            // 1000
            for variant in ("plain", "idle", "monitored")}
        row = figures[driver]
        print(f"{driver:<12} instructions per query: plain {row['plain']:,}, "
              f"idle +{row['idle'] - row['plain']:,}, "
              f"monitored +{row['monitored'] - row['plain']:,}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000, help="queries per block")
    parser.add_argument("--rounds", type=int, default=15, help="blocks per variant")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per query under callgrind (valgrind)")
    parser.add_argument("--child", nargs=3, metavar=("DRIVER", "VARIANT", "COUNT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        driver, variant, count = args.child
        _child(driver, variant, int(count))
        return
    run(args.queries, args.rounds)
    if args.instructions:
        instructions_per_query()


if __name__ == "__main__":
    main()
