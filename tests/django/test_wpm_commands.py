"""``manage.py wpm_list|wpm_show|wpm_window|wpm_prune``: the ``wpm`` command with the project's
settings, against SQLite in the report folder and a real redis-server."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from django_wpm import get_monitor

ROUTE = "GET users/<int:uid>/"


@pytest.fixture
def alerted(settings: Any, report_dir: Path, store_url: str | None) -> Client:
    """GET users/<int:uid>/ alerted, then held one back; GET api/users/<int:uid>/ alerted."""
    settings.WPM = {"THRESHOLD_SECONDS": 0.05, "LOCAL_OUTPUT_DIR": str(report_dir),
                    "ALERT_STORE_URL": store_url, "NOTIFY_RETRIES": 0, "SERVICE_NAME": "mysite"}
    client = Client()
    for path in ("/users/1/", "/users/2/", "/api/users/3/"):
        assert client.get(path).status_code == 200
        get_monitor().flush()
    return client


def wpm(command: str, *args: str) -> Any:
    out = StringIO()
    call_command(command, *args, json=True, stdout=out)
    return json.loads(out.getvalue())


def test_wpm_list_and_wpm_show(alerted: Client, report_dir: Path) -> None:
    records = wpm("wpm_list")
    assert [(r["service"], r["endpoint"]) for r in records] == [
        ("mysite", "GET api/users/<int:uid>/"), ("mysite", ROUTE)]
    assert all((report_dir / r["report"]).is_file() for r in records)
    assert [r["endpoint"] for r in wpm("wpm_list", "--endpoint", ROUTE)] == [ROUTE]
    shown = wpm("wpm_show", ROUTE)
    assert [(s["alerts"], s["held_back"]) for s in shown["endpoints"]] == [(1, 1)]
    with pytest.raises(CommandError, match="no history for 'GET none/'"):
        call_command("wpm_show", "GET none/", stdout=StringIO())


def test_wpm_window_reset_and_wpm_prune(alerted: Client) -> None:
    assert {w["endpoint"] for w in wpm("wpm_window")} == {ROUTE, "GET api/users/<int:uid>/"}
    out = StringIO()
    call_command("wpm_window", "reset", ROUTE, stdout=out)
    assert out.getvalue().startswith("Reset 1 alert window")
    assert alerted.get("/users/4/").status_code == 200
    get_monitor().flush()
    assert wpm("wpm_list")[0]["endpoint"] == ROUTE  # alerted again
    with pytest.raises(CommandError, match="no open alert window"):
        call_command("wpm_window", "reset", "GET none/", stdout=StringIO())
    assert wpm("wpm_prune") == {"alert_records": 0, "report_files": 0}


def test_wpm_config_shows_the_settings_keys(alerted: Client) -> None:
    out = StringIO()
    call_command("wpm_config", stdout=out)
    header, _, *rows = out.getvalue().splitlines()
    assert header.split() == ["Option", "Value"]
    assert ["SERVICE_NAME", "mysite"] in [row.split() for row in rows]
