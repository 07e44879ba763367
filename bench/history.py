"""What alert history costs (issue 16): adding an alert record on the alert worker, and reading
the history back, in SQLite and Redis, with the retention full (500 records kept, the default).

``python bench/history.py [--records 2000]``: a fresh SQLite file and a private redis-server
(skipped when ``redis-server`` is not installed). Adding a record happens once per alert, on the
background worker, never on the request path; reads are the ``wpm`` command's and the index
page's. Also times ``python -m web_performance_monitor list`` end to end (interpreter start-up
included) on the SQLite store.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "core"), ROOT]

from web_performance_monitor.history import AlertRecord  # noqa: E402
from web_performance_monitor.store import AlertStore, RedisStore, SQLiteStore  # noqa: E402


@contextmanager
def redis_server() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def per_call(action: Callable[[int], object], count: int) -> float:
    """Median of ``count`` calls, in milliseconds."""
    times = []
    for i in range(count):
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1000


def measure(name: str, store: AlertStore, records: int) -> None:
    now = time.time()

    def record(i: int) -> None:
        store.record(AlertRecord("shop", f"GET /e{i % 40}", now - records + i, 1.5, 200,
                                 f"wpm_e{i}.html", None, "web-1", 1))

    add = per_call(record, records)
    read = per_call(lambda i: store.history(limit=None), 50)
    summary = per_call(lambda i: store.endpoints(), 50)
    kept = len(store.history(limit=None))
    print(f"{name:<8} record {add:7.3f} ms   history({kept}) {read:7.3f} ms   "
          f"endpoints {summary:7.3f} ms   (medians)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="wpm-bench-")
    sqlite = SQLiteStore(os.path.join(folder, ".wpm-alerts.sqlite3"))
    measure("sqlite", sqlite, args.records)
    sqlite.close()
    with redis_server() as url:
        if url is None:
            print("redis    skipped: redis-server is not installed")
        else:
            redis = RedisStore(url)
            measure("redis", redis, args.records)
            redis.close()
    env = {**os.environ, "WPM_LOCAL_OUTPUT_DIR": folder,
           "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "core"), ROOT])}
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "web_performance_monitor", "list", "--limit", "500"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        runs.append(time.perf_counter() - start)
    print(f"wpm list --limit 500 (SQLite, a new process each time): "
          f"{sorted(runs)[2] * 1000:.0f} ms (median of 5)")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
