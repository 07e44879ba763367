"""Real servers under wrk on 127.0.0.1: throughput of the monitored app relative to plain."""

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


def _serve_and_measure(server: str, variant: str, seconds: int) -> dict[str, float]:
    port = _free_port()
    argv = [part.format(port=port) for part in SERVERS[server]]
    env = {**os.environ, "BENCH_VARIANT": variant, "BENCH_SERVER": server.split("-")[0],
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait(port)
        base = f"http://127.0.0.1:{port}"
        _wrk(base + PATHS[server]["trivial"], 1)  # warm-up
        return {name: _wrk(base + path, seconds) for name, path in PATHS[server].items()}
    finally:
        proc.terminate()
        proc.wait(30)


def run(rounds: int, seconds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        print("  skipped: wrk is not installed (apt-get install wrk)")
        return {"skipped": "wrk not installed"}
    results: dict[str, Any] = {}
    for server in SERVERS:
        rps: dict[str, dict[str, list[float]]] = {"plain": {}, "wpm": {}}
        for r in range(rounds):
            order = ["plain", "wpm"] if r % 2 == 0 else ["wpm", "plain"]
            for variant in order:
                for name, value in _serve_and_measure(server, variant, seconds).items():
                    rps[variant].setdefault(name, []).append(value)
        results[server] = {}
        for name in PATHS[server]:
            ratios = [w / p for w, p in zip(rps["wpm"][name], rps["plain"][name], strict=True)]
            results[server][name] = {
                "plain_rps": statistics.median(rps["plain"][name]),
                "wpm_rps": statistics.median(rps["wpm"][name]),
                "throughput_ratio": statistics.median(ratios), "ratios": ratios}
            row = results[server][name]
            print(f"  {server:<15} {name:<8} plain {row['plain_rps']:8.0f} req/s   wpm "
                  f"{row['wpm_rps']:8.0f} req/s   {row['throughput_ratio'] * 100:5.1f}% of plain",
                  flush=True)
    return results
