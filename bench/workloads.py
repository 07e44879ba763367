"""The three endpoint kinds every framework serves in the benchmark."""

from __future__ import annotations

import json
import time
from typing import Any

ROWS = [{"id": i, "name": f"user {i}", "email": f"u{i}@example.com", "active": i % 2 == 0}
        for i in range(200)]


def trivial() -> str:
    return "ok"


def typical() -> str:
    """200 dicts to JSON: a common API endpoint."""
    return json.dumps(ROWS)


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def call_heavy() -> str:
    """About 93,000 Python calls."""
    return str(fib(23))


def slow(seconds: float = 0.006) -> str:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return "slow"


WORKLOADS: dict[str, Any] = {"trivial": trivial, "typical": typical, "call-heavy": call_heavy}
