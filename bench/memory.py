"""Memory: RSS after 10,000 and after 200,000 monitored requests, 1% of them slow."""

from __future__ import annotations

import gc
import tempfile
from typing import Any

from flask import Flask

from bench.drivers import wsgi_block
from bench.workloads import slow, typical
from flask_wpm import WPM


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def run(total: int = 200_000) -> dict[str, Any]:
    app = Flask("bench-memory")
    app.add_url_rule("/typical/<int:n>", "typical", lambda n: typical())
    app.add_url_rule("/slow/<int:n>", "slow", lambda n: slow(0.015))
    app.config.update(WPM_THRESHOLD_SECONDS=0.01, WPM_LOCAL_OUTPUT_DIR=tempfile.mkdtemp(),
                      WPM_ALERT_STORE_URL="memory://", WPM_ALERT_WINDOW_DAYS=0.0001)
    WPM(app)
    fast = wsgi_block(app.wsgi_app, "/typical/1")
    slow_block = wsgi_block(app.wsgi_app, "/slow/1")
    readings: dict[str, float] = {}
    done = 0
    while done < total:
        fast(99)
        slow_block(1)
        done += 100
        if done in (10_000, total):
            WPM.get_monitor(app).flush()
            gc.collect()
            rss = readings[f"rss_mb_after_{done}"] = rss_mb()
            print(f"  after {done:>7,} requests (1% slow): RSS {rss:.1f} MB", flush=True)
    stats = WPM.get_monitor(app).get_stats()
    readings["growth_mb"] = readings[f"rss_mb_after_{total}"] - readings["rss_mb_after_10000"]
    readings["alerts_sent"] = stats["alerts_sent"]
    readings["slow_requests"] = stats["slow_requests"]
    print(f"  growth between 10,000 and {total:,}: {readings['growth_mb']:.1f} MB "
          f"({stats['slow_requests']} slow, {stats['alerts_sent']} alerts)")
    return readings
