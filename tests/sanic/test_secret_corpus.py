"""The planted-secret corpus (issue 13) through a Sanic app with the extension."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from sanic import Request, Sanic, text

from sanic_wpm import WPM
from tests.conftest import RecordingNotifier
from tests.secret_corpus import Corpus, check


def test_no_planted_secret_leaves_a_sanic_app(report_dir: Path, recorder: RecordingNotifier,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="web_performance_monitor")
    corpus = Corpus("SN")
    app = Sanic(f"corpus{uuid.uuid4().hex[:12]}")
    app.config.update(WPM_THRESHOLD_SECONDS=0, WPM_ALERT_WINDOW_DAYS=0,
                      WPM_LOCAL_OUTPUT_DIR=str(report_dir), WPM_ALERT_STORE_URL="memory://",
                      WPM_NOTIFY_RETRIES=0)
    WPM(app)

    @app.before_server_start
    async def record_alerts(app: Sanic) -> None:
        WPM.get_monitor(app).add_notifier(recorder)

    async def handler(request: Request, **values: Any) -> Any:
        return text("ok")

    for i, call in enumerate(corpus.routes):
        app.add_route(handler, call.route_as("sanic"), methods=[call.method], name=f"h{i}")

    async def main() -> None:
        for call in corpus.calls:
            await app.asgi_client.request(call.method, call.url, content=call.body,
                                          headers=dict(call.headers))
        WPM.get_monitor(app).flush()

    asyncio.run(main())
    check(corpus, recorder, report_dir, caplog)
    assert "GET /reset/<token:str>" in {alert.event.endpoint for alert in recorder.alerts}
