"""What a user sees: with no logging configured, the monitor's start-up and alert lines reach
stderr (as Flask's ``default_handler`` does); with logging configured, only its handlers get
them. Each framework's app runs in a fresh process, as a user's would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

STARTED = "web_performance_monitor: monitoring requests slower than 0.05s"
ALERTED = "; alerted ("


def run(framework: str, mode: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "tests.logging_app", framework, mode,
                             str(report_dir)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.parametrize("framework", ["flask", "django"])
def test_without_logging_the_lines_reach_stderr(framework: str, report_dir: Path) -> None:
    result = run(framework, "bare", report_dir)
    lines = [line for line in result.stderr.splitlines() if "web_performance_monitor:" in line]
    assert any(STARTED in line and f"reports in {report_dir}" in line for line in lines), lines
    assert any(ALERTED in line for line in lines), lines
    assert all(line.startswith("[") and " INFO " in line for line in lines), lines


@pytest.mark.parametrize("framework", ["flask", "django", "sanic"])
def test_with_logging_configured_only_its_handlers_get_them(framework: str,
                                                            report_dir: Path) -> None:
    result = run(framework, "configured", report_dir)
    ours = [line for line in result.stdout.splitlines() if "web_performance_monitor:" in line]
    assert any(line.startswith(f"APP {STARTED}") for line in ours), result.stdout
    assert any(ALERTED in line for line in ours), result.stdout
    assert "web_performance_monitor:" not in result.stderr


def test_sanic_without_logging_shows_the_lines(report_dir: Path) -> None:
    """Sanic sets up its own logging on the root logger: the lines come through it."""
    result = run("sanic", "bare", report_dir)
    output = result.stdout + result.stderr
    assert STARTED in output and ALERTED in output
