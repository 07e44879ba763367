"""Idle cost (issue 18): CPU a monitored process uses while no request runs, beside a plain one.

``python bench/idle.py [--seconds 60]``: each variant runs in its own process, serves one
request (so the monitor's sampler thread has started), then sits idle; the process's own CPU
time over the idle window is read with ``resource.getrusage`` (user + system, all threads).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(variant: str, seconds: float) -> None:
    sys.path.insert(0, ROOT)
    from flask import Flask

    app = Flask("idle")

    @app.get("/")
    def index() -> str:
        return "ok"

    if variant == "monitored":
        import tempfile

        from flask_wpm import WPM

        app.config.update(WPM_LOCAL_OUTPUT_DIR=tempfile.mkdtemp(),
                          WPM_ALERT_STORE_URL="memory://")
        WPM(app)
    assert app.test_client().get("/").data == b"ok"
    time.sleep(0.5)  # let start-up settle
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(seconds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"variant": variant, "seconds": seconds, "cpu_seconds": cpu}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    procs = {variant: subprocess.Popen([sys.executable, __file__, "--child", variant,
                                        str(args.seconds)], stdout=subprocess.PIPE, text=True)
             for variant in ("plain", "monitored")}
    print(f"Idle cost: CPU time over {args.seconds:g} s with no request (both side by side):")
    for variant, proc in procs.items():
        out, _ = proc.communicate()
        result = json.loads(out.strip().splitlines()[-1])
        share = result["cpu_seconds"] / result["seconds"]
        print(f"  {variant:<10} {result['cpu_seconds'] * 1000:8.1f} ms CPU  "
              f"({share:.4%} of a core)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], float(sys.argv[3]))
    else:
        main()
