"""The benchmark scripts run end to end with tiny parameters: every in-process suite with its
four variants and the judgement of issue 18, the outgoing-call costs (``bench/calls.py``), and
the peer benchmark where its venv exists.

Figures are not checked (a smoke run's are noise); each part runs in a process of its own, as
``make bench`` runs it, since the bench configures Django and registers Sanic apps globally.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"

INPROCESS = """
import json
from bench import inprocess, judgement
result = inprocess.run(rounds=1, scale=0.02, workloads=("trivial", "typical"))
rows = judgement.judge_inprocess([result])
judgement.print_inprocess(rows)
print(json.dumps(sorted({(row["suite"], row["endpoint"]) for row in rows})))
"""

PEERS = """
import json, sys
from bench import peers
missing = peers.missing_peers()
if missing:
    print(json.dumps({"missing": sorted(set(missing.values()))}))
    sys.exit(0)
result = peers.run(rounds=1, scale=0.02)
peers.print_table(result)
print(json.dumps({"inactive": result["inactive"], "recorded": result["recorded"]}))
"""

QUERIES = """
import json
from bench import queries
result = queries.run(queries=60, rounds=1)
print(json.dumps({driver: sorted(row) for driver, row in result.items()}))
"""


def _run(python: Path | str, code: str) -> Any:
    """Run ``code`` in ``python`` from the repository root; its last stdout line, as JSON."""
    done = subprocess.run([str(python), "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_inprocess_bench_judges_every_framework_named_by_the_decision() -> None:
    judged = _run(sys.executable, INPROCESS)
    assert judged == sorted([suite, endpoint]
                            for suite in ("flask", "django-sync", "django-async", "sanic", "asgi")
                            for endpoint in ("trivial", "typical"))


def test_sampling_bench_compares_the_sampler_thread_with_setitimer(tmp_path: Path) -> None:
    out = tmp_path / "sampling.json"
    done = subprocess.run([sys.executable, "bench/run.py", "--quick", "--only", "sampling",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {"thread", "setitimer"} <= {line.split()[1] for line in done.stdout.splitlines()
                                      if line.startswith("  ") and len(line.split()) > 1}


def test_calls_bench_prints_every_librarys_cost() -> None:
    done = subprocess.run([sys.executable, "bench/calls.py", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line.split("  ")[1] for line in done.stdout.splitlines() if line.startswith("  ")}
    assert {"http.client (requests, urllib3)", "httpx", "httpx async", "aiohttp (trace handlers)",
            "requests (Session)", "httpx.Client", "httpx.AsyncClient",
            "aiohttp.ClientSession"} < rows


def test_query_bench_times_each_driver_plain_idle_and_monitored() -> None:
    assert _run(sys.executable, QUERIES) == {
        "django": ["idle", "monitored", "plain"], "sqlalchemy": ["idle", "monitored", "plain"],
        "app_site": ["app_site"]}


@pytest.mark.skipif(not BENCH_PYTHON.exists(),
                    reason="the peers are not installed: `make bench-peers` installs them into "
                           ".venv-bench")
def test_peer_bench_runs_and_every_peer_records_what_it_traced() -> None:
    outcome = _run(BENCH_PYTHON, PEERS)
    assert isinstance(outcome, dict)
    if "missing" in outcome:
        pytest.skip(f"peers not installed in .venv-bench: {', '.join(outcome['missing'])}")
    assert outcome["inactive"] == []
    for name, figures in outcome["recorded"].items():
        assert figures["refused"] == [], name
        if figures["recorded"] is not None:
            assert figures["recorded"] >= 1, name
