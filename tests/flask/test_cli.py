"""``flask wpm list|show|window|prune|...``: the ``wpm`` command with the app's configuration,
against SQLite in the report folder and a real redis-server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_wpm import WPM

ROUTE = "GET /users/<int:uid>"


@pytest.fixture
def alerted(make_app: Callable[..., Flask], store_url: str | None) -> Flask:
    """GET /users/<int:uid> alerted, then held one back; GET /api/items/<name> alerted."""
    app = make_app(WPM_ALERT_STORE_URL=store_url, WPM_SERVICE_NAME="shop")
    client = app.test_client()
    for path in ("/users/1", "/users/2", "/api/items/x"):
        assert client.get(path).status_code == 200
        WPM.get_monitor(app).flush()
    return app


def wpm(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=["wpm", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_list_and_show(alerted: Flask, report_dir: Path) -> None:
    records = wpm(alerted, "list")
    assert [(r["service"], r["endpoint"]) for r in records] == [
        ("shop", "GET /api/items/<name>"), ("shop", ROUTE)]
    assert all((report_dir / r["report"]).is_file() for r in records)
    shown = wpm(alerted, "show", ROUTE)
    assert [(s["alerts"], s["held_back"]) for s in shown["endpoints"]] == [(1, 1)]
    table = alerted.test_cli_runner().invoke(args=["wpm", "list"]).output.splitlines()
    assert table[0].startswith("Time (UTC)") and len(table) == 4


def test_window_reset_and_prune(alerted: Flask) -> None:
    assert {w["endpoint"] for w in wpm(alerted, "window")} == {ROUTE, "GET /api/items/<name>"}
    result = alerted.test_cli_runner().invoke(args=["wpm", "window", "reset", ROUTE])
    assert result.exit_code == 0 and result.output.startswith("Reset 1 alert window")
    assert alerted.test_client().get("/users/3").status_code == 200
    WPM.get_monitor(alerted).flush()
    assert wpm(alerted, "list")[0]["endpoint"] == ROUTE  # alerted again
    missing = alerted.test_cli_runner().invoke(args=["wpm", "window", "reset", "GET /none"])
    assert missing.exit_code == 1
    assert wpm(alerted, "prune") == {"alert_records": 0, "report_files": 0}


def test_help_and_usage_errors_come_from_the_wpm_command(alerted: Flask) -> None:
    runner = alerted.test_cli_runner()
    group = runner.invoke(args=["wpm", "--help"])
    assert all(name in group.output for name in ("list", "show", "window", "prune", "open"))
    helped = runner.invoke(args=["wpm", "list", "--help"])
    assert helped.exit_code == 0 and "usage: flask wpm list" in helped.output
    assert "--config" not in helped.output  # the app's configuration, not a file
    wrong = runner.invoke(args=["wpm", "list", "--since", "soon"])
    assert wrong.exit_code == 2
