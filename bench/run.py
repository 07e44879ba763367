"""``make bench``: in-process overhead, real servers under wrk, and memory, then the verdicts.

Then the sampler thread against an in-thread ``setitimer`` sampler (``bench/sampling.py``).

In-process: Flask, Django (sync and async views), Sanic, FastAPI (ASGI) and the decorator;
endpoints trivial, typical (200 dicts to JSON) and call-heavy (~93k calls); plain, a no-op
middleware of the same framework (the floor), this monitor and naive per-request pyinstrument
side by side in one process, in shuffled alternating blocks; medians, paired ratios against
plain and bootstrap 95% intervals. The in-process part runs ``--runs`` times (3 by default),
each in its own process, and the judgement of issue 18 (``bench/judgement.py``) is printed from
their median and spread. Prints tables, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import inprocess, judgement, memory, sampling, servers

HERE = os.path.dirname(os.path.abspath(__file__))


def inprocess_runs(runs: int, quick: bool) -> list[dict[str, Any]]:
    """The in-process part ``runs`` times; with more than one, each in a process of its own
    (``--only inprocess --runs 1``), as separate ``make bench`` runs would be."""
    if runs == 1:
        print("In-process overhead (ratio to plain, median of paired blocks [95% CI]; "
              "added µs: median of paired differences):")
        return [inprocess.run(rounds=5 if quick else 21, scale=0.3 if quick else 1)]
    results = []
    with tempfile.TemporaryDirectory(prefix="wpm-bench-runs-") as folder:
        for number in range(1, runs + 1):
            print(f"In-process run {number} of {runs}:", flush=True)
            out = os.path.join(folder, f"run-{number}.json")
            subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "--only", "inprocess",
                            "--runs", "1", "--out", out, "--part-of-runs"]
                           + (["--quick"] if quick else []), check=True)
            with open(out) as handle:
                results.extend(json.load(handle)["inprocess_runs"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", choices=["inprocess", "servers", "memory", "sampling"])
    parser.add_argument("--runs", type=int, default=None,
                        help="in-process runs judged together (default 3; 1 with --quick)")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "latest.json"))
    parser.add_argument("--part-of-runs", action="store_true",
                        help=argparse.SUPPRESS)  # one of --runs N: the parent judges them all
    args = parser.parse_args()
    quick = args.quick
    runs = args.runs or (1 if quick else 3)
    report: dict[str, object] = {"machine": platform.platform(), "python": sys.version,
                                 "cpus": os.cpu_count(), "started": time.time(), "quick": quick}
    if args.only in (None, "inprocess"):
        report["inprocess_runs"] = results = inprocess_runs(runs, quick)
        report["inprocess_judgement"] = rows = judgement.judge_inprocess(results)
        if not args.part_of_runs:
            judgement.print_inprocess(rows)
    if args.only in (None, "servers"):
        print("Real servers under wrk (-t1 -c8), 127.0.0.1, median of paired runs [95% CI]:")
        report["servers"] = served = servers.run(rounds=3 if quick else 11,
                                                 seconds=1 if quick else 2)
        report["servers_judgement"] = rows = judgement.judge_servers(served)
        judgement.print_servers(rows)
    if args.only in (None, "memory"):
        print("Memory:")
        report["memory"] = memory.run(total=20_000 if quick else 200_000)
    if args.only in (None, "sampling"):
        print(f"Main-thread requests, sampled every {sampling.INTERVAL * 1000:.0f} ms "
              "(sampler thread vs in-thread setitimer):")
        report["sampling"] = sampling.measure(rounds=3 if quick else 15)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
