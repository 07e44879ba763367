"""The Django example's N+1 view, served by gunicorn: the report says why it was slow (issue 15)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.django.test_servers import PROJECT, project_env  # noqa: F401 - a fixture
from tests.servers import BIN, get_json, serve

VIEWS = PROJECT / "catalog" / "views.py"


def the_report(report_dir: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(report_dir.glob("wpm_*.html"))
        if found:
            return found[0].read_text(encoding="utf-8")
        time.sleep(0.1)
    raise AssertionError(f"no report in {report_dir}")


def test_the_n_plus_one_view_names_its_statement_count_and_line(
        project_env: dict[str, str], report_dir: Path) -> None:  # noqa: F811
    env = {**os.environ, **project_env}
    subprocess.run([sys.executable, "manage.py", "shell", "-c",
                    "from catalog.views import _seed; _seed()"], cwd=PROJECT, env=env, check=True)
    argv = [str(BIN / "gunicorn"), "-w", "1", "-b", "127.0.0.1:{port}", "mysite.wsgi:application"]
    with serve(argv, cwd=PROJECT, env=project_env) as url:
        assert get_json(f"{url}/products/3/report/")["product"] == 3
        page = the_report(report_dir)
    data = page.split("id=wpm-event>", 1)[1].removesuffix("</script></body></html>")
    facts = json.loads(data)
    line = next(number for number, text in enumerate(VIEWS.read_text().splitlines(), 1)
                if "product.reviews.all()" in text)
    assert re.search(
        r"N\+1: `SELECT \.\.\. FROM \"catalog_review\" WHERE \"catalog_review\"\.\"product_id\" "
        rf"= \?` ×[\d,]+ of the first 1,000 kept at `catalog/views.py:{line}`",
        facts["headline"]), facts["headline"]
    # every query counted (the seed's check, 12 product lists, 2,400 review lists), 1,000 kept
    assert facts["queries"]["count"] == 1 + 12 + 12 * 200
    assert facts["queries"]["not_kept"] == facts["queries"]["count"] - 1000
    assert facts["framework"] is None or "Django" in facts["framework"]
    header = page.split("<main>", 1)[0]
    assert html.unescape(header.replace("<code>", "`").replace("</code>", "`")).count(
        facts["headline"]) == 1  # the same sentence opens the page
