"""The app served by ``sanic ... --workers 2`` in the multi-worker test."""

from __future__ import annotations

import os
from pathlib import Path

from tests.sanic.apps import build_app

app = build_app("multiworker", Path(os.environ["TEST_REPORT_DIR"]), WPM_ALERT_STORE_URL=None)
