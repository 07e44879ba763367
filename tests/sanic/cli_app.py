"""The app ``python -m sanic_wpm tests.sanic.cli_app:app ...`` loads in the command tests: its
report folder and store from the environment, as a deployment's would be."""

from __future__ import annotations

import os
from pathlib import Path

from sanic import Sanic

from tests.sanic.apps import build_app

app = build_app("cli", Path(os.environ["TEST_REPORT_DIR"]), WPM_SERVICE_NAME="shop",
                WPM_ALERT_STORE_URL=os.environ.get("TEST_STORE_URL") or None)
unregistered = Sanic("cli-unregistered")  # without WPM: the command says so
