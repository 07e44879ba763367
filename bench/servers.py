"""Real servers under wrk on 127.0.0.1: throughput of the monitored app relative to plain.

Per server, the plain and the monitored app (and for Sanic its no-op middleware pair, the floor
issue 18 judges Sanic against too) run side by side and take turns under wrk in short runs; the
median of the paired ratios, with a bootstrap 95% interval.
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
VARIANTS = {"flask-gunicorn": ["plain", "wpm"], "django-uvicorn": ["plain", "wpm"],
            "sanic": ["plain", "noop", "wpm"]}
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
    """Plain and monitored servers (and the floor, where one runs) up side by side, hit in
    alternating short runs.

    All live through the whole comparison, so a drift of the shared machine falls on each
    alike; each round gives one paired ratio. Per endpoint: ``{"rps": {variant: median},
    "ratios_to": {other variant: {"median", "ci95", "ratios"}}}`` (monitored / other).
    """
    variants = VARIANTS[server]
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for variant in variants:
            servers[variant] = _serve(server, variant)
        for variant in variants:  # warm-up
            _wrk(servers[variant][1] + PATHS[server]["trivial"], 1)
        results: dict[str, Any] = {}
        for name, path in PATHS[server].items():
            rps: dict[str, list[float]] = {variant: [] for variant in variants}
            for r in range(rounds):
                for variant in variants if r % 2 == 0 else variants[::-1]:
                    rps[variant].append(_wrk(servers[variant][1] + path, seconds))
            ratios_to = {}
            for other in variants:
                if other == "wpm":
                    continue
                ratios = [w / o for w, o in zip(rps["wpm"], rps[other], strict=True)]
                ratios_to[other] = {"median": statistics.median(ratios),
                                    "ci95": list(bootstrap_ci(ratios)), "ratios": ratios}
            results[name] = {"rps": {v: statistics.median(rps[v]) for v in variants},
                             "ratios_to": ratios_to}
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
            served = "   ".join(f"{v} {rate:8.0f} req/s" for v, rate in row["rps"].items())
            shares = "   ".join(
                f"{figures['median'] * 100:5.1f}% of {other} "
                f"[{figures['ci95'][0] * 100:.1f}-{figures['ci95'][1] * 100:.1f}]"
                for other, figures in row["ratios_to"].items())
            print(f"  {server:<15} {name:<8} {served}   wpm {shares}", flush=True)
    return results
