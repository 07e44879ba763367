"""``wpm`` (``python -m web_performance_monitor``) in a subprocess, against the store two real
monitors filled: SQLite in the report folder, and a real redis-server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from tests.conftest import free_port
from tests.core.wsgi_apps import slow_app
from tests.servers import ROOT, subprocess_env
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.history import AlertRecord
from web_performance_monitor.store import SQLiteStore


@dataclass
class Alerted:
    """Two services' monitors that alerted, and how to run ``wpm`` on their store."""

    report_dir: Path
    env: dict[str, str]
    shop: PerformanceMonitor | None = None

    def wpm(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "web_performance_monitor", *args],
                              cwd=ROOT, env=subprocess_env({**self.env, **env}),
                              capture_output=True, text=True, timeout=60)

    def json(self, *args: str) -> Any:
        done = self.wpm(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def slow_request(monitor: PerformanceMonitor, path: str) -> None:
    Client(monitor.create_middleware()(slow_app)).get(path, headers={"X-Request-ID": "req-1"})
    monitor.flush()


@pytest.fixture(params=["sqlite", "redis"])
def alerted(request: pytest.FixtureRequest, make_monitor: Callable[..., PerformanceMonitor],
            report_dir: Path) -> Alerted:
    """shop: GET /slow (then one held back), GET /other; blog: GET /slow."""
    url = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_server").url
    shop = make_monitor(service_name="shop", alert_store_url=url)
    blog = make_monitor(service_name="blog", alert_store_url=url)
    for monitor, path in [(shop, "/slow"), (blog, "/slow"), (shop, "/slow"), (shop, "/other")]:
        slow_request(monitor, path)
    env = {"WPM_LOCAL_OUTPUT_DIR": str(report_dir)}
    if url:
        env["WPM_ALERT_STORE_URL"] = url
    return Alerted(report_dir, env, shop)


def test_list_shows_every_alert_newest_first(alerted: Alerted) -> None:
    done = alerted.wpm("list")
    assert done.returncode == 0, done.stderr
    header, rule, *rows = done.stdout.splitlines()
    assert header.split()[:5] == ["Time", "(UTC)", "Service", "Endpoint", "Duration"]
    assert set(rule) == {"-", " "}
    assert [row.split()[2:5] for row in rows] == [
        ["shop", "GET", "/other"], ["blog", "GET", "/slow"], ["shop", "GET", "/slow"]]
    records = alerted.json("list")
    assert [(r["service"], r["endpoint"]) for r in records] == [
        ("shop", "GET /other"), ("blog", "GET /slow"), ("shop", "GET /slow")]
    for record in records:
        assert (alerted.report_dir / record["report"]).is_file()
        assert record["status"] == 201 and record["trace_id"] == "req-1"
        assert record["pid"] == os.getpid()


def test_list_filters(alerted: Alerted) -> None:
    assert [r["endpoint"] for r in alerted.json("list", "--service", "blog")] == ["GET /slow"]
    assert [r["service"] for r in alerted.json("list", "--endpoint", "GET /slow")] == [
        "blog", "shop"]
    assert len(alerted.json("list", "--since", "1h")) == 3
    assert alerted.json("list", "--since", "2999-01-01") == []
    assert len(alerted.json("list", "--limit", "2")) == 2
    summaries = alerted.json("list", "--endpoints")
    assert {(s["service"], s["endpoint"], s["alerts"], s["held_back"]) for s in summaries} == {
        ("shop", "GET /slow", 1, 1), ("blog", "GET /slow", 1, 0), ("shop", "GET /other", 1, 0)}


def test_show_gives_an_endpoints_history(alerted: Alerted) -> None:
    shown = alerted.json("show", "GET /slow", "--service", "shop")
    [summary] = shown["endpoints"]
    assert (summary["alerts"], summary["held_back"]) == (1, 1)
    assert summary["worst_duration"] >= 0.1 and summary["window_until"] > time.time()
    assert [a["service"] for a in shown["alerts"]] == ["shop"]
    done = alerted.wpm("show", "GET /slow")
    assert done.returncode == 0
    assert "Held back" in done.stdout and "blog" in done.stdout and "shop" in done.stdout
    missing = alerted.wpm("show", "GET /never")
    assert missing.returncode == 1 and "no history for 'GET /never'" in missing.stderr


def test_window_reset_lets_the_endpoint_alert_again(alerted: Alerted) -> None:
    windows = alerted.json("window")
    assert {(w["service"], w["endpoint"], w["held_back"]) for w in windows} == {
        ("shop", "GET /slow", 1), ("blog", "GET /slow", 0), ("shop", "GET /other", 0)}
    done = alerted.wpm("window")
    assert done.stdout.splitlines()[0].split() == ["Service", "Endpoint", "Until", "(UTC)",
                                                   "Held", "back"]
    done = alerted.wpm("window", "reset", "GET /slow", "--service", "shop")
    assert done.returncode == 0 and done.stdout.startswith("Reset 1 alert window:")
    assert {(w["service"], w["endpoint"]) for w in alerted.json("window")} == {
        ("blog", "GET /slow"), ("shop", "GET /other")}
    assert alerted.shop is not None
    slow_request(alerted.shop, "/slow")  # alerts again, and tells the one held back
    assert alerted.shop.get_stats()["alerts_sent"] == 3
    assert alerted.json("list", "--service", "shop")[0]["endpoint"] == "GET /slow"
    nothing = alerted.wpm("window", "reset", "GET /never")
    assert nothing.returncode == 1 and "no open alert window for 'GET /never'" in nothing.stderr
    assert alerted.json("window", "reset") == {"reset": 3}
    assert alerted.json("window") == []


def test_prune_applies_the_retention_from_a_config_file(alerted: Alerted, tmp_path: Path) -> None:
    config = tmp_path / "wpm.toml"
    config.write_text(f'[wpm]\nlocal_output_dir = "{alerted.report_dir}"\n'
                      "report_retention_count = 1\n")
    done = alerted.wpm("--config", str(config), "prune", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"alert_records": 2, "report_files": 2}
    [kept] = alerted.json("list")
    assert kept["endpoint"] == "GET /other"
    assert [p.name for p in alerted.report_dir.glob("wpm_*.html")] == [kept["report"]]
    done = alerted.wpm("--config", str(config), "prune")
    assert done.stdout.startswith("Removed 0 alert records and 0 report files")


def test_usage_errors_exit_with_2(alerted: Alerted) -> None:
    for args in [(), ("bogus",), ("list", "--since", "yesterday"), ("list", "--limit", "0"),
                 ("window", "clear")]:
        done = alerted.wpm(*args)
        assert done.returncode == 2, args
        assert done.stderr.startswith("usage: python -m web_performance_monitor")


def test_an_unreachable_store_fails_with_1_and_names_it_masked(report_dir: Path) -> None:
    port = free_port()
    url = f"redis://:hunter2-password@127.0.0.1:{port}/0"
    done = Alerted(report_dir, {"WPM_ALERT_STORE_URL": url}).wpm("list")
    assert done.returncode == 1
    assert "cannot use the alert store redis://" in done.stderr
    assert "hunter2-password" not in done.stderr + done.stdout


def test_without_a_store_there_is_nothing_yet_and_nothing_is_created(report_dir: Path) -> None:
    done = Alerted(report_dir, {"WPM_LOCAL_OUTPUT_DIR": str(report_dir)}).wpm("list", "--json")
    assert done.returncode == 0 and json.loads(done.stdout) == []
    assert "no alert store" in done.stderr
    assert not (report_dir / ".wpm-alerts.sqlite3").exists()


def test_what_comes_from_the_store_is_masked_and_escaped(report_dir: Path) -> None:
    hook = "https://hooks.example.com/services/T0001/verysecretwebhookpathkey"
    store = SQLiteStore(str(report_dir / ".wpm-alerts.sqlite3"))
    store.record(AlertRecord("shop", "GET /x\x1b[2J\u202eevil?api_key=sk-live-abcdef123456",
                             time.time(), 1.5, 200, None, "verysecretwebhookpathkey", "h", 1))
    store.close()
    alerted = Alerted(report_dir, {"WPM_LOCAL_OUTPUT_DIR": str(report_dir),
                                   "WPM_SLACK_WEBHOOK_URL": hook})
    for args in [("list",), ("list", "--json"), ("list", "--endpoints"), ("config",),
                 ("config", "--json")]:
        done = alerted.wpm(*args)
        assert done.returncode == 0, done.stderr
        for secret in ("verysecretwebhookpathkey", "sk-live-abcdef123456"):
            assert secret not in done.stdout, args
        assert "\x1b" not in done.stdout and "\u202e" not in done.stdout
    shown = alerted.wpm("list").stdout
    assert "GET /x\\x1b[2J\\u202eevil" in shown


@pytest.fixture
def browser(tmp_path: Path) -> Path:
    """A "browser" (BROWSER, as the webbrowser module reads it) that writes what it opened."""
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_open_shows_the_index_or_a_report_and_nothing_else(alerted: Alerted,
                                                          browser: Path) -> None:
    opened = browser.parent / "opened.txt"
    missing = alerted.wpm("open", BROWSER=str(browser))
    assert missing.returncode == 1 and "no index page at" in missing.stderr
    (alerted.report_dir / "index.html").write_text("<html></html>")
    done = alerted.wpm("open", BROWSER=str(browser))
    assert done.returncode == 0, done.stderr
    assert opened.read_text() == (alerted.report_dir / "index.html").resolve().as_uri()
    report = alerted.json("list")[0]["report"]
    assert alerted.wpm("open", report, BROWSER=str(browser)).returncode == 0
    assert opened.read_text().endswith("/" + report)
    for name in ["../../etc/passwd", "/etc/passwd", ".wpm-alerts.sqlite3", "index.html",
                 "wpm_missing.html"]:
        refused = alerted.wpm("open", name, BROWSER=str(browser))
        assert refused.returncode == 1, name
    assert opened.read_text().endswith("/" + report)


def test_test_alert_and_config(alerted: Alerted, tmp_path: Path) -> None:
    done = alerted.wpm("test-alert")
    assert done.returncode == 0 and "local_file: ok" in done.stdout
    blocker = tmp_path / "file"
    blocker.write_text("")
    failed = alerted.wpm("test-alert", WPM_LOCAL_OUTPUT_DIR=str(blocker / "sub"))
    assert failed.returncode == 1 and "local_file: FAILED" in failed.stdout
    assert "test alert failed" in failed.stderr
    config = alerted.json("config")
    assert config["local_output_dir"] == str(alerted.report_dir)
    table = alerted.wpm("config").stdout.splitlines()
    assert table[0].split() == ["Option", "Value"]
    assert ["local_output_dir", str(alerted.report_dir)] in [row.split() for row in table]
