"""``python -m sanic_wpm path.to:app list|show|window|prune|...``: the ``wpm`` command with the
Sanic app's configuration, against SQLite in the report folder and a real redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sanic import Sanic

from sanic_wpm import WPM
from tests.sanic.apps import build_app
from tests.servers import ROOT, subprocess_env

ROUTE = "GET /items/<iid:int>"
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(report_dir: Path, store_url: str | None) -> Run:
    """``python -m sanic_wpm tests.sanic.cli_app:app ARGS...`` on this test's store."""
    env = {"TEST_REPORT_DIR": str(report_dir), "TEST_STORE_URL": store_url or ""}

    def run(*args: str, target: str = "tests.sanic.cli_app:app") -> Any:
        return subprocess.run([sys.executable, "-m", "sanic_wpm", target, *args], cwd=ROOT,
                              env=subprocess_env(env), capture_output=True, text=True,
                              timeout=60)

    return run


@pytest.fixture
def alerted(report_dir: Path, store_url: str | None) -> Sanic:
    """The same app in this process: GET /items/<iid:int> alerted, then held one back."""
    app = build_app("cli", report_dir, WPM_SERVICE_NAME="shop", WPM_ALERT_STORE_URL=store_url)
    for iid in (1, 2):
        _, response = app.test_client.get(f"/items/{iid}")
        assert response.status == 200
    WPM.get_monitor(app).flush()
    return app


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_list_show_window_reset_prune(alerted: Sanic, run: Run, report_dir: Path) -> None:
    [record] = as_json(run("list", "--json"))
    assert (record["service"], record["endpoint"]) == ("shop", ROUTE)
    assert (report_dir / record["report"]).is_file()
    shown = as_json(run("show", ROUTE, "--json"))
    assert [(s["alerts"], s["held_back"]) for s in shown["endpoints"]] == [(1, 1)]
    assert [w["endpoint"] for w in as_json(run("window", "--json"))] == [ROUTE]
    done = run("window", "reset", ROUTE)
    assert done.returncode == 0 and done.stdout.startswith("Reset 1 alert window")
    assert as_json(run("window", "--json")) == []
    assert run("window", "reset", ROUTE).returncode == 1  # none open any more
    assert as_json(run("prune", "--json")) == {"alert_records": 0, "report_files": 0}


def test_config_is_shown_as_app_config_holds_it(run: Run, report_dir: Path) -> None:
    shown = as_json(run("config", "--json"))
    assert (shown["WPM_SERVICE_NAME"], shown["WPM_LOCAL_OUTPUT_DIR"]) == ("shop", str(report_dir))


def test_usage(run: Run) -> None:
    helped = run("list", "--help")
    assert helped.returncode == 0
    assert "usage: python -m sanic_wpm tests.sanic.cli_app:app list" in helped.stdout
    assert run("list", "--since", "soon").returncode == 2
    missing = run("list", target="tests.sanic.no_such_module:app")
    assert missing.returncode == 1 and "cannot load the Sanic app" in missing.stderr
    unregistered = run("list", target="tests.sanic.cli_app:unregistered")
    assert unregistered.returncode == 1 and "not registered with WPM" in unregistered.stderr

