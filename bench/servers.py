"""Real servers under wrk on 127.0.0.1: throughput of the monitored app relative to plain.

Per server, the plain and the monitored app run side by side and take turns under wrk in short
runs; the median of the paired ratios, with a bootstrap 95% interval.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.inprocess import bootstrap_ci

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SERVERS: dict[str, list[str]] = {
    "flask-gunicorn": [str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:{port}",
                       "--log-level", "warning", "bench.server_apps:flask"],
    "django-uvicorn": [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", "{port}",
                       "--log-level", "warning", "--no-access-log",
                       "bench.server_apps:django_asgi"],
    "sanic": [str(BIN / "sanic"), "bench.server_apps:sanic", "--host", "127.0.0.1",
              "--port", "{port}", "--single-process", "--no-access-logs"],
}
VARIANTS = ["plain", "wpm"]
PATHS = {"flask-gunicorn": {"trivial": "/trivial", "typical": "/typical"},
         "django-uvicorn": {"trivial": "/sync/trivial", "typical": "/sync/typical"},
         "sanic": {"trivial": "/trivial", "typical": "/typical"}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(port)


def _wrk(url: str, seconds: int) -> float:
    out = subprocess.run(["wrk", "-t1", "-c8", f"-d{seconds}s", url], capture_output=True,
                         text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def _serve(server: str, variant: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    argv = [part.format(port=port) for part in SERVERS[server]]
    env = {**os.environ, "BENCH_VARIANT": variant, "BENCH_SERVER": server.split("-")[0],
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait(port)
    except BaseException:
        proc.terminate()
        raise
    return proc, f"http://127.0.0.1:{port}"


def _pair(server: str, rounds: int, seconds: int) -> dict[str, Any]:
    """Plain and monitored servers up side by side, hit in alternating short runs.

    Both live through the whole comparison, so a drift of the shared machine falls on both
    alike; each round gives one paired ratio.
    """
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for variant in VARIANTS:
            servers[variant] = _serve(server, variant)
        for variant in VARIANTS:  # warm-up
            _wrk(servers[variant][1] + PATHS[server]["trivial"], 1)
        results: dict[str, Any] = {}
        for name, path in PATHS[server].items():
            rps: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
            for r in range(rounds):
                for variant in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
                    rps[variant].append(_wrk(servers[variant][1] + path, seconds))
            ratios = [w / p for w, p in zip(rps["wpm"], rps["plain"], strict=True)]
            low, high = bootstrap_ci(ratios)
            results[name] = {
                "plain_rps": statistics.median(rps["plain"]),
                "wpm_rps": statistics.median(rps["wpm"]),
                "throughput_ratio": statistics.median(ratios), "ci95": [low, high],
                "ratios": ratios}
        return results
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(30)


def run(rounds: int, seconds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        print("  skipped: wrk is not installed (apt-get install wrk)")
        return {"skipped": "wrk not installed"}
    results: dict[str, Any] = {}
    for server in SERVERS:
        results[server] = _pair(server, rounds, seconds)
        for name, row in results[server].items():
            print(f"  {server:<15} {name:<8} plain {row['plain_rps']:8.0f} req/s   wpm "
                  f"{row['wpm_rps']:8.0f} req/s   {row['throughput_ratio'] * 100:5.1f}% of plain "
                  f"[{row['ci95'][0] * 100:.1f}-{row['ci95'][1] * 100:.1f}]", flush=True)
    return results
