"""In-process overhead: every framework and the decorator, four variants, alternating blocks.

The variants are plain, a no-op middleware of the same framework (the floor, issue 18), this
monitor and per-request pyinstrument (``bench/variants.py``). Two drivers: a minimal WSGI/ASGI
caller (only the app is timed: the strictest ratio), and for Flask and Django also the
framework's own test client ("-client" rows), which is how the issue that set the overhead
bounds measured them.
"""

from __future__ import annotations

import functools
import random
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import pyinstrument

from bench.drivers import ASGIDriver, Block, wsgi_block
from bench.variants import (
    DJANGO_MIDDLEWARE,
    VARIANTS,
    asgi_app,
    flask_app,
    monitor_config,
    sanic_app,
    setup_django,
)
from bench.workloads import WORKLOADS

# Requests per block, by workload: enough for a block of ~50-300 ms.
PER_BLOCK = {"trivial": 400, "typical": 200, "call-heavy": 12}


def bootstrap_ci(values: list[float], rounds: int = 2000) -> tuple[float, float]:
    """95% interval of the median of ``values``, by resampling (seeded: same input, same CI)."""
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(rounds))
    return medians[int(rounds * 0.025)], medians[int(rounds * 0.975)]


def compare(blocks: dict[str, Block], count: int, rounds: int) -> dict[str, Any]:
    """Alternate the variants block by block; paired ratios and differences against "plain".

    Returns ``{"plain_us": median µs, variant: {"us", "ratio", "ci95", "added_us"}}``:
    ``ratio`` is the median of the per-round ratios to plain with its bootstrap 95% interval,
    ``added_us`` the median of the per-round differences (µs a request), which the floor
    judgement compares.
    """
    times: dict[str, list[float]] = {name: [] for name in blocks}
    for block in blocks.values():
        block(max(5, count // 5))  # warm-up
    for r in range(rounds):
        order = list(blocks.items())
        random.Random(r).shuffle(order)
        for name, block in order:
            times[name].append(block(count))
    row: dict[str, Any] = {"plain_us": statistics.median(times["plain"]) * 1e6}
    for name in blocks:
        if name == "plain":
            continue
        pairs = list(zip(times[name], times["plain"], strict=True))
        ratios = [v / p for v, p in pairs]
        low, high = bootstrap_ci(ratios)
        row[name] = {"us": statistics.median(times[name]) * 1e6,
                     "ratio": statistics.median(ratios), "ci95": [low, high],
                     "added_us": statistics.median(v - p for v, p in pairs) * 1e6}
    return row


def flask_blocks(workload: str) -> dict[str, Block]:
    return {v: wsgi_block(flask_app(v).wsgi_app, f"/{workload}") for v in VARIANTS}


def client_block(get: Callable[[str], Any], path: str) -> Block:
    """Requests through a framework's own test client (how the issue's figures were taken)."""
    def run(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            response = get(path)
            assert response.status_code == 200, response.status_code
        return (time.perf_counter() - started) / n

    return run


def flask_client_blocks(workload: str) -> dict[str, Block]:
    return {v: client_block(flask_app(v).test_client().get, f"/{workload}") for v in VARIANTS}


def django_client_blocks(workload: str) -> dict[str, Block]:
    from django.test import Client, override_settings

    setup_django()
    blocks: dict[str, Block] = {}
    for variant in VARIANTS:
        with override_settings(MIDDLEWARE=DJANGO_MIDDLEWARE[variant]):
            client = Client()
            client.get(f"/sync/{workload}")  # the handler loads this variant's middleware now
        blocks[variant] = client_block(client.get, f"/sync/{workload}")
    return blocks


def django_blocks(workload: str, kind: str) -> dict[str, Block]:
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    setup_django()
    blocks: dict[str, Block] = {}
    for variant in VARIANTS:
        with override_settings(MIDDLEWARE=DJANGO_MIDDLEWARE[variant]):
            if kind == "sync":
                blocks[variant] = wsgi_block(WSGIHandler(), f"/sync/{workload}")
            else:
                blocks[variant] = ASGIDriver(ASGIHandler(), lifespan=False).block(
                    f"/async/{workload}")
    return blocks


_sanic_drivers: dict[str, ASGIDriver] = {}


def sanic_blocks(workload: str) -> dict[str, Block]:
    for variant in VARIANTS:
        if variant not in _sanic_drivers:
            _sanic_drivers[variant] = ASGIDriver(sanic_app(variant), lifespan=True)
    return {v: _sanic_drivers[v].block(f"/{workload}") for v in VARIANTS}


def asgi_blocks(workload: str) -> dict[str, Block]:
    return {v: ASGIDriver(asgi_app(v), lifespan=False).block(f"/{workload}") for v in VARIANTS}


def noop_decorator(fn: Callable[[], str]) -> Callable[[], str]:
    """The decorator's floor: one more Python call around the function."""
    @functools.wraps(fn)
    def call() -> str:
        return fn()

    return call


def decorator_blocks(workload: str) -> dict[str, Block]:
    from web_performance_monitor import PerformanceMonitor

    work: Callable[[], str] = WORKLOADS[workload]
    monitor = PerformanceMonitor(monitor_config())
    decorated = monitor.create_decorator(name=f"bench.{workload}")(work)

    def naive() -> str:
        profiler = pyinstrument.Profiler()
        profiler.start()
        try:
            return work()
        finally:
            profiler.stop()

    def block_of(fn: Callable[[], str]) -> Block:
        def run(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                fn()
            return (time.perf_counter() - started) / n

        return run

    return {"plain": block_of(work), "noop": block_of(noop_decorator(work)),
            "wpm": block_of(decorated), "naive-pyinstrument": block_of(naive)}


SUITES: dict[str, Callable[[str], dict[str, Block]]] = {
    "flask": flask_blocks,
    "flask-client": flask_client_blocks,
    "django-sync": lambda w: django_blocks(w, "sync"),
    "django-client": django_client_blocks,
    "django-async": lambda w: django_blocks(w, "async"),
    "sanic": sanic_blocks,
    "asgi": asgi_blocks,
    "decorator": decorator_blocks,
}


def run(rounds: int, scale: float = 1.0, suites: Iterable[str] = SUITES,
        workloads: Iterable[str] = WORKLOADS) -> dict[str, dict[str, Any]]:
    """Every suite and workload once: ``{suite: {workload: compare() row}}``, printed as it goes.

    ``scale`` shrinks the blocks (a smoke run); ``suites``/``workloads`` pick a subset.
    """
    results: dict[str, dict[str, Any]] = {}
    for suite in suites:
        results[suite] = {}
        for workload in workloads:
            count = max(3, int(PER_BLOCK[workload] * scale))
            row = results[suite][workload] = compare(SUITES[suite](workload), count, rounds)
            wpm, noop = row["wpm"], row["noop"]
            print(f"  {suite:<13} {workload:<11} plain {row['plain_us']:9.1f} µs   "
                  f"no-op x{noop['ratio']:.3f} ({noop['added_us']:+.1f} µs)   "
                  f"wpm x{wpm['ratio']:.3f} [{wpm['ci95'][0]:.3f}-{wpm['ci95'][1]:.3f}] "
                  f"({wpm['added_us']:+.1f} µs)   "
                  f"naive x{row['naive-pyinstrument']['ratio']:.2f}", flush=True)
    return results
