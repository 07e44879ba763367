"""Soak (issue 14): gunicorn -w 4 with a chat server that hangs, fails and rate-limits.

``python bench/soak.py --minutes 10`` (``make soak``). A fake Mattermost on 127.0.0.1 changes
mode every 20 s (hang, 500, 429, ok) while 8 client threads send requests to 50 endpoints of
``bench/soak_app.py`` under real gunicorn sync workers sharing one SQLite alert store; 5% of
requests are slow. Checked at the end, and the process exits 1 when any check fails:

- every endpoint has exactly one local report (one alert per endpoint per window, across the
  four workers, whatever the chat server does);
- in each worker, every slow request is in exactly one alert counter (``get_stats()``);
- each worker's RSS is flat after warm-up.

Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import free_port, wait_for_port
from tests.mattermost_server import CHANNEL, TOKEN, FakeMattermost

ROOT = Path(__file__).resolve().parents[1]

ENDPOINTS = 50
WORKERS = 4
CLIENTS = 8
SLOW_EVERY = 20  # 5% of requests are slow
CHAT_MODES = ("hang", "500", "429", "ok")
CHAT_PERIOD = 20.0
RSS_PERIOD = 10.0
RSS_FLAT_BYTES = 5 * 1024 * 1024  # "flat": less than this growth after warm-up
COUNTERS = ("alerts_sent", "alerts_suppressed", "alerts_rate_limited", "alerts_failed",
            "alerts_dropped")
HOST = "127.0.0.1"


def get(port: int, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """One request on a fresh connection: sync workers close every connection anyway."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Load:
    """Client threads sending a deterministic mix: the n-th request is slow when n % 20 == 0,
    and slow requests go round the endpoints in turn, so each gets its share of them."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self._numbers = itertools.count()
        self.sent = 0
        self.slow = 0
        self.errors: dict[str, int] = {}
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        while not self.stop.is_set():
            number = next(self._numbers)
            slow = number % SLOW_EVERY == 0
            target = (number // SLOW_EVERY) % ENDPOINTS if slow else number % ENDPOINTS
            path = f"/ep{target:02d}" + ("?slow=1" if slow else "")
            try:
                status, _ = get(self.port, path)
                error = None if status == 200 else f"HTTP {status}"
            except OSError as exc:
                error = type(exc).__name__
            with self._lock:
                self.sent += 1
                self.slow += slow
                if error:
                    self.errors[error] = self.errors.get(error, 0) + 1


def alternate_chat(chat: FakeMattermost, stop: threading.Event) -> None:
    """Cycle the chat server through its failure modes for the whole run."""
    for mode in itertools.cycle(CHAT_MODES):
        chat.mode = mode
        if stop.wait(CHAT_PERIOD):
            return


def worker_pids(master: int) -> list[int]:
    """The master's children, from /proc (no extra dependency for one ppid scan)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may contain spaces or parentheses: fields start after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            pids.append(int(entry.name))
    return sorted(pids)


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def sample_rss(master: int, stop: threading.Event,
               samples: dict[int, list[tuple[float, int]]]) -> None:
    """Every RSS_PERIOD seconds, each worker's RSS, keyed by pid (a restarted worker shows up
    as a new pid, which the summary reports)."""
    start = time.monotonic()
    while True:
        for pid in worker_pids(master):
            rss = rss_bytes(pid)
            if rss is not None:
                samples.setdefault(pid, []).append((time.monotonic() - start, rss))
        if stop.wait(RSS_PERIOD):
            return


def read_stats(port: int) -> dict[int, dict[str, Any]]:
    """Each worker's ``get_stats()``: rounds of WORKERS concurrent reads (each holds its
    worker briefly, so they land on different workers) until every worker has answered."""
    found: dict[int, dict[str, Any]] = {}
    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in range(100):
            for status, body in pool.map(lambda _: get(port, "/_stats"), range(WORKERS)):
                if status == 200:
                    data = json.loads(body)
                    found[data["pid"]] = data["stats"]
            if len(found) >= WORKERS:
                break
    return found


def mib(value: float) -> str:
    return f"{value / 1048576:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    seconds = args.minutes * 60

    work = Path(tempfile.mkdtemp(prefix="wpm-soak-"))
    reports = work / "reports"
    reports.mkdir()
    log_path = work / "gunicorn.log"
    port = free_port()
    checks: list[tuple[str, bool, str]] = []

    with FakeMattermost() as chat:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SOAK_ENDPOINTS": str(ENDPOINTS),
               "WPM_LOCAL_OUTPUT_DIR": str(reports),
               "WPM_ALERT_STORE_URL": f"sqlite:///{work}/alerts.db",
               "WPM_ENABLE_MATTERMOST": "true", "WPM_MATTERMOST_SERVER_URL": chat.url,
               "WPM_MATTERMOST_TOKEN": TOKEN, "WPM_MATTERMOST_CHANNEL_ID": CHANNEL,
               "WPM_THRESHOLD_SECONDS": "0.2", "WPM_ALERT_WINDOW_DAYS": "1",
               "WPM_NOTIFY_RETRIES": "1"}
        gunicorn = Path(sys.executable).parent / "gunicorn"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(gunicorn), "-w", str(WORKERS), "-k", "sync", "-b", f"{HOST}:{port}",
                 "bench.soak_app:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(port, timeout=30)
        while len(worker_pids(proc.pid)) < WORKERS:
            time.sleep(0.1)
        start_pids = worker_pids(proc.pid)

        stop = threading.Event()
        samples: dict[int, list[tuple[float, int]]] = {}
        background = [threading.Thread(target=alternate_chat, args=(chat, stop), daemon=True),
                      threading.Thread(target=sample_rss, args=(proc.pid, stop, samples),
                                       daemon=True)]
        for thread in background:
            thread.start()
        load = Load(port)
        print(f"soak: {args.minutes:g} min, gunicorn -w {WORKERS} on {HOST}:{port}, "
              f"chat {chat.url}, files in {work}", flush=True)
        started = time.monotonic()
        load.start()
        time.sleep(seconds)
        load.join()
        elapsed = time.monotonic() - started
        time.sleep(5)  # the alert workers drain their queues (the local report comes first)
        stats = read_stats(port)
        time.sleep(2)
        again = read_stats(port)
        end_pids = worker_pids(proc.pid)
        stop.set()
        for thread in background:
            thread.join()
        proc.send_signal(signal.SIGTERM)
        try:
            exit_code: int | None = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            exit_code = None
        chat_posts, chat_requests = len(chat.posts), len(chat.requests)

    log_text = log_path.read_text(errors="replace")

    # --- load ----------------------------------------------------------------------------
    print(f"\nload: {load.sent} requests in {elapsed:.0f} s ({load.sent / elapsed:.0f}/s), "
          f"{load.slow} slow; client errors: {load.errors or 'none'}")
    print(f"chat server: {chat_requests} requests, {chat_posts} posts accepted")
    checks.append(("no client errors", not load.errors, str(load.errors or "none")))

    # --- reports per endpoint --------------------------------------------------------------
    per_endpoint = dict.fromkeys(range(ENDPOINTS), 0)
    strays = []
    for path in sorted(reports.iterdir()):
        match = re.search(r"ep(\d{2})_", path.name)
        if match and path.name.startswith("wpm_") and int(match[1]) in per_endpoint:
            per_endpoint[int(match[1])] += 1
        else:
            strays.append(path.name)
    print("\nlocal reports per endpoint:")
    for row in range(0, ENDPOINTS, 10):
        print("  " + "  ".join(f"ep{n:02d}:{per_endpoint[n]}" for n in range(row, row + 10)))
    wrong = {f"ep{n:02d}": c for n, c in per_endpoint.items() if c != 1}
    checks.append(("one report per endpoint", not wrong and not strays,
                   f"{sum(per_endpoint.values())} files for {ENDPOINTS} endpoints; "
                   f"not 1: {wrong or 'none'}; other files: {strays or 'none'}"))

    # --- counters per worker -------------------------------------------------------------
    print("\ncounters per worker (read after the load stopped and again 2 s later):")
    print(f"  {'pid':>7} {'requests':>9} {'slow':>6} {'sent':>5} {'suppr':>6} {'ratelim':>7} "
          f"{'failed':>6} {'dropped':>7} {'sum':>6}  ok  settled  mattermost")
    total_sent = 0
    for pid in sorted(again):
        s = again[pid]
        total = sum(s[name] for name in COUNTERS)
        adds_up = "yes" if total == s["slow_requests"] else "NO"
        total_sent += s["alerts_sent"]
        settled = all(stats.get(pid, {}).get(name) == s[name]
                      for name in ("slow_requests", *COUNTERS))
        mm = s["notifiers"].get("mattermost", {})
        mm_text = ", ".join(f"{k}={mm.get(k)}" for k in ("sent", "failed", "dropped",
                                                         "queued", "breaker_trips"))
        print(f"  {pid:>7} {s['total_requests']:>9} {s['slow_requests']:>6} "
              f"{s['alerts_sent']:>5} {s['alerts_suppressed']:>6} "
              f"{s['alerts_rate_limited']:>7} {s['alerts_failed']:>6} "
              f"{s['alerts_dropped']:>7} {total:>6}  {adds_up:>3}"
              f"  {'yes' if settled else 'no':>7}  {mm_text}")
        if s["internal_errors"]:
            print(f"          internal_errors: {s['internal_errors']}")
        checks.append((f"counters add up in worker {pid}", total == s["slow_requests"],
                       f"slow {s['slow_requests']} vs sum {total}"))
    checks.append(("stats read from every worker", sorted(again) == start_pids,
                   f"read {sorted(again)}, workers {start_pids}"))
    checks.append(("alerts_sent total = endpoints", total_sent == ENDPOINTS,
                   f"{total_sent} sent across workers for {ENDPOINTS} endpoints"))

    # --- RSS -----------------------------------------------------------------------------
    warm_up = min(60.0, seconds / 5)
    print(f"\nRSS per worker, MiB (flat: last - first sample after {warm_up:.0f} s warm-up "
          f"< {mib(RSS_FLAT_BYTES)}):")
    print(f"  {'pid':>7} {'first':>7} {'warm':>7} {'last':>7} {'max':>7} {'growth':>7} samples")
    for pid in sorted(samples):
        series = samples[pid]
        warm = next((rss for at, rss in series if at >= warm_up), series[-1][1])
        growth = series[-1][1] - warm
        print(f"  {pid:>7} {mib(series[0][1]):>7} {mib(warm):>7} {mib(series[-1][1]):>7} "
              f"{mib(max(rss for _, rss in series)):>7} {mib(growth):>7} {len(series)}")
        checks.append((f"RSS flat in worker {pid}", growth < RSS_FLAT_BYTES,
                       f"{growth / 1048576:+.1f} MiB after warm-up"))
    checks.append(("no worker restarted", sorted(samples) == start_pids == end_pids,
                   f"pids at start {start_pids}, at end {end_pids}, sampled {sorted(samples)}"))

    # --- shutdown ------------------------------------------------------------------------
    tracebacks = log_text.count("Traceback")
    checks.append(("clean gunicorn shutdown", exit_code == 0 and not tracebacks,
                   f"exit code {exit_code}, {tracebacks} tracebacks in {log_path}"))
    levels = {level: len(re.findall(rf"\b{level}\b", log_text))
              for level in ("WARNING", "ERROR", "CRITICAL")}
    print(f"\ngunicorn log {log_path}: {levels}")

    print("\nchecks:")
    for name, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {detail}")
    return 0 if all(passed for _, passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
