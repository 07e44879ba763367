"""Side-by-side overhead benchmark: plain app vs this monitor vs naive per-request pyinstrument.

All variants live in one process and run in alternating blocks, so machine noise hits them
alike; each block gives a paired ratio (variant / plain), and the table shows the median ratio
with a bootstrap 95% interval.  Usage: ``make bench`` (or ``python bench/run.py --quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import pyinstrument
from flask import Flask, jsonify
from werkzeug.test import Client

from flask_wpm import WPM

ROWS = [{"id": i, "name": f"user {i}", "email": f"u{i}@example.com", "active": i % 2 == 0}
        for i in range(200)]


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def make_app() -> Flask:
    app = Flask("bench")

    @app.get("/trivial")
    def trivial() -> str:
        return "ok"

    @app.get("/typical")
    def typical() -> Any:
        return jsonify(ROWS)

    @app.get("/call-heavy")
    def heavy() -> Any:
        return jsonify(fib(23))  # ~93k Python calls

    return app


class NaivePyinstrument:
    """What most recipes do: a pyinstrument Profiler started and stopped around every request."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        profiler = pyinstrument.Profiler(interval=0.001)
        profiler.start()
        try:
            return list(self.app(environ, start_response))
        finally:
            profiler.stop()


def variants(report_dir: str) -> dict[str, Client]:
    plain = make_app()
    monitored = make_app()
    monitored.config.update(WPM_THRESHOLD_SECONDS=10.0, WPM_LOCAL_OUTPUT_DIR=report_dir,
                            WPM_ALERT_STORE_URL="memory://")
    WPM(monitored)
    naive = make_app()
    naive.wsgi_app = NaivePyinstrument(naive.wsgi_app)  # type: ignore[method-assign]
    return {"plain": Client(plain), "wpm": Client(monitored), "naive-pyinstrument": Client(naive)}


def block(client: Client, path: str, requests: int) -> float:
    start = time.perf_counter()
    for _ in range(requests):
        client.get(path).close()
    return (time.perf_counter() - start) / requests


def bootstrap_ci(values: list[float], rounds: int = 2000) -> tuple[float, float]:
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(rounds))
    return medians[int(rounds * 0.025)], medians[int(rounds * 0.975)]


def run(blocks: int, requests: dict[str, int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as report_dir:
        clients = variants(report_dir)
        results: dict[str, Any] = {}
        for path, count in requests.items():
            times: dict[str, list[float]] = {name: [] for name in clients}
            for client in clients.values():
                block(client, path, max(10, count // 10))  # warm up
            for b in range(blocks):
                order = list(clients.items())
                if b % 2:
                    order.reverse()
                for name, client in order:
                    times[name].append(block(client, path, count))
            row: dict[str, Any] = {"plain_median_us": statistics.median(times["plain"]) * 1e6}
            for name in clients:
                if name == "plain":
                    continue
                ratios = [v / p for v, p in zip(times[name], times["plain"], strict=True)]
                low, high = bootstrap_ci(ratios)
                row[name] = {"median_us": statistics.median(times[name]) * 1e6,
                             "ratio": statistics.median(ratios), "ci95": [low, high]}
            results[path] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer blocks (a smoke run)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "flask-inprocess.json"))
    args = parser.parse_args()
    blocks = 5 if args.quick else 21
    requests = {"/trivial": 300, "/typical": 200, "/call-heavy": 10}
    if args.quick:
        requests = {path: max(5, n // 5) for path, n in requests.items()}
    results = run(blocks, requests)
    print(f"Flask in-process, {blocks} alternating blocks, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'endpoint':<12} {'plain µs':>10} {'wpm':>22} {'naive pyinstrument':>24}")
    for path, row in results.items():
        cells = [f"x{row[n]['ratio']:.3f} [{row[n]['ci95'][0]:.3f}-{row[n]['ci95'][1]:.3f}]"
                 for n in ("wpm", "naive-pyinstrument")]
        print(f"{path:<12} {row['plain_median_us']:>10.1f} {cells[0]:>22} {cells[1]:>24}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump({"machine": platform.platform(), "python": sys.version, "blocks": blocks,
                   "results": results}, handle, indent=2)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
