"""The overhead decision of issue 18, applied to a bench's figures: met or not met, with them.

In-process, per framework and endpoint (trivial, typical): the monitor's added time per request
is at most ``FLOOR_FACTOR`` times the added time of a no-op middleware of the same framework,
both measured side by side in one run (``compare()``'s ``added_us``: the median of the paired
per-round differences to plain). The figure judged is the median over the runs (``make bench``
makes 3, each in its own process), shown with the spread (lowest-highest run). The typical
endpoint's ratio to plain, judged the same way, has the target ``TYPICAL_TARGET``.

Real servers: the monitored server's throughput is at least ``THROUGHPUT_FLOOR`` of plain's
(median of paired wrk runs, with its bootstrap 95% interval); Sanic's also against its no-op
middleware pair.
"""

from __future__ import annotations

import statistics
from typing import Any

FLOOR_FACTOR = 2.0
TYPICAL_TARGET = 1.02
THROUGHPUT_FLOOR = 0.97
# The suites the decision names, with the floor each is judged against.
JUDGED = {
    "flask": "Flask (WSGI callable), no-op WSGI middleware",
    "django-sync": "Django sync view (WSGI handler), no-op Django middleware",
    "django-async": "Django async view (ASGI handler), no-op Django middleware",
    "sanic": "Sanic (ASGI), no-op request/response middleware pair",
    "asgi": "FastAPI (ASGI), no-op ASGI middleware",
}
ENDPOINTS = ("trivial", "typical")


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "low": min(values), "high": max(values)}


def judge_inprocess(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per judged suite and endpoint present in ``runs`` (each ``inprocess.run()``'s
    result): the monitor's and the floor's added µs, their ratio, the ratio to plain, verdicts.

    A floor whose median is not above zero is below this machine's noise in that run set: the
    bound is then not met, since "2x nothing" cannot be shown; the row says so.
    """
    rows = []
    for suite in JUDGED:
        for endpoint in ENDPOINTS:
            cells = [run[suite][endpoint] for run in runs if endpoint in run.get(suite, {})]
            if not cells:
                continue
            monitor = _spread([cell["wpm"]["added_us"] for cell in cells])
            floor = _spread([cell["noop"]["added_us"] for cell in cells])
            to_plain = _spread([cell["wpm"]["ratio"] for cell in cells])
            row: dict[str, Any] = {
                "suite": suite, "endpoint": endpoint, "runs": len(cells),
                "monitor_added_us": monitor, "floor_added_us": floor,
                "ratio_to_floor": (monitor["median"] / floor["median"]
                                   if floor["median"] > 0 else None),
                "floor_met": floor["median"] > 0
                and monitor["median"] <= FLOOR_FACTOR * floor["median"],
                "ratio_to_plain": to_plain,
            }
            if endpoint == "typical":
                row["typical_target_met"] = to_plain["median"] <= TYPICAL_TARGET
            rows.append(row)
    return rows


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def _cell(spread: dict[str, float], form: str) -> str:
    return (f"{format(spread['median'], form)} "
            f"[{format(spread['low'], form)}..{format(spread['high'], form)}]")


def print_inprocess(rows: list[dict[str, Any]]) -> None:
    runs = max((row["runs"] for row in rows), default=0)
    print(f"Judgement (issue 18): monitor added <= {FLOOR_FACTOR:g}x the no-op middleware's added "
          f"time; typical <= x{TYPICAL_TARGET}; median of {runs} run(s) [lowest..highest]:")
    print(f"  {'framework':<13} {'endpoint':<8} {'monitor added µs':<22} {'floor added µs':<22} "
          f"{'ratio':>6}  {'<=2x floor':<10} {'to plain':<24} target")
    for row in rows:
        ratio = row["ratio_to_floor"]
        target = ("—" if "typical_target_met" not in row
                  else _verdict(row["typical_target_met"]))
        print(f"  {row['suite']:<13} {row['endpoint']:<8} "
              f"{_cell(row['monitor_added_us'], '+.1f'):<22} "
              f"{_cell(row['floor_added_us'], '+.1f'):<22} "
              f"{'—' if ratio is None else f'{ratio:.2f}x':>6}  "
              f"{_verdict(row['floor_met']):<10} {_cell(row['ratio_to_plain'], '.3f'):<24} "
              f"{target}")
    print("  (floors: " + "; ".join(f"{k}: {v.split(', ')[1]}" for k, v in JUDGED.items()) + ")")


def judge_servers(servers: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per server, endpoint and comparison (``wpm/plain``, and ``wpm/noop`` where a
    no-op variant ran) from ``servers.run()``'s result: median ratio, 95% CI, verdict."""
    rows = []
    for server, endpoints in servers.items():
        if not isinstance(endpoints, dict):
            continue
        for endpoint, cell in endpoints.items():
            for against, figures in cell["ratios_to"].items():
                rows.append({"server": server, "endpoint": endpoint, "against": against,
                             "ratio": figures["median"], "ci95": figures["ci95"],
                             "met": figures["median"] >= THROUGHPUT_FLOOR})
    return rows


def print_servers(rows: list[dict[str, Any]]) -> None:
    print(f"Judgement (issue 18): monitored throughput >= {THROUGHPUT_FLOOR:.0%} of plain "
          "(Sanic: also of its no-op pair), median of paired runs [95% CI]:")
    for row in rows:
        print(f"  {row['server']:<15} {row['endpoint']:<8} wpm / {row['against']:<6} "
              f"{row['ratio'] * 100:5.1f}% [{row['ci95'][0] * 100:.1f}-"
              f"{row['ci95'][1] * 100:.1f}]  {_verdict(row['met'])}")
