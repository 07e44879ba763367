"""``make demo``: the example app under a real server on 127.0.0.1, fast and slow requests, and
what a new user is shown at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers import ROOT


def test_demo_serves_the_example_and_shows_reports(report_dir: Path) -> None:
    env = {**os.environ, "WPM_LOCAL_OUTPUT_DIR": str(report_dir),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "core"), str(ROOT)])}
    result = subprocess.run([sys.executable, "example_projects/flask_app/demo.py"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "serving the example app on http://127.0.0.1:" in out
    assert "3 slow, 2 alerted, 1 held back by the window" in out
    reports = sorted(report_dir.glob("wpm_*.html"))
    assert [line.split(": ", 1)[1] for line in out.splitlines()
            if line.startswith("report: ")] == [str(p) for p in reports]
    assert len(reports) == 2
    assert "of service app (Flask " in result.stderr  # the start-up line, on stderr
    for secret in ("demo-secret", "hunter2"):
        assert secret not in out + result.stderr
    if (report_dir / "index.html").exists():
        assert f"index of every alert: {report_dir / 'index.html'}" in out
