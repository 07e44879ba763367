"""Run one framework's app in a fresh process and send it one slow request (for the logging
tests: what a user sees on the terminal). ``python -m tests.logging_app FRAMEWORK MODE DIR``:
MODE ``bare`` configures no logging at all; ``configured`` calls ``logging.basicConfig`` with
its own format on stdout first, as an application that set up logging would."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path


def flask_app(report_dir: Path) -> None:
    from flask_wpm import WPM
    from tests.flask.conftest import build_app

    app = build_app(report_dir)
    WPM(app)
    assert app.test_client().get("/users/7").status_code == 200
    WPM.get_monitor(app).close()


def django_app(report_dir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.django.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from django_wpm import get_monitor

    settings.WPM = {**settings.WPM, "LOCAL_OUTPUT_DIR": str(report_dir)}
    assert Client().get("/users/7/").status_code == 200
    get_monitor().close()


def sanic_app(report_dir: Path) -> None:
    from sanic_wpm import WPM
    from tests.sanic.apps import build_app

    app = build_app("logging_check", report_dir)
    _, response = app.test_client.get("/items/5")
    assert response.status == 200
    WPM.get_monitor(app).close()


if __name__ == "__main__":
    framework, mode, folder = sys.argv[1:4]
    if mode == "configured":
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="APP %(message)s")
    {"flask": flask_app, "django": django_app, "sanic": sanic_app}[framework](Path(folder))
