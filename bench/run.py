"""``make bench``: in-process overhead, real servers under wrk, and memory, in one run.

Then the sampler thread against an in-thread ``setitimer`` sampler (``bench/sampling.py``).

In-process: Flask, Django (sync and async views), Sanic and the decorator; endpoints trivial,
typical (200 dicts to JSON) and call-heavy (~93k calls); plain, this monitor and naive
per-request pyinstrument side by side in one process, in shuffled alternating blocks; medians,
paired ratios against plain and bootstrap 95% intervals. Prints tables, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import inprocess, memory, sampling, servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", choices=["inprocess", "servers", "memory", "sampling"])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "latest.json"))
    args = parser.parse_args()
    quick = args.quick
    report: dict[str, object] = {"machine": platform.platform(), "python": sys.version,
                                 "cpus": os.cpu_count(), "started": time.time(), "quick": quick}
    if args.only in (None, "inprocess"):
        print("In-process overhead (ratio to plain, median of paired blocks [95% CI]):")
        report["inprocess"] = inprocess.run(rounds=5 if quick else 31, scale=0.3 if quick else 1)
    if args.only in (None, "servers"):
        print("Real servers under wrk (-t1 -c8), 127.0.0.1, median of paired runs [95% CI]:")
        report["servers"] = servers.run(rounds=3 if quick else 11, seconds=1 if quick else 2)
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
