"""Sanic apps for the tests, built the way Sanic users build them."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from sanic import Blueprint, Request, Sanic, json

from sanic_wpm import WPM
from tests.conftest import RecordingNotifier, busy

Sanic.test_mode = True


def slow_marker(seconds: float) -> None:
    busy(seconds)


def fast_marker(seconds: float) -> None:
    busy(seconds)


def build_app(name: str, report_dir: Path, recorder: RecordingNotifier | None = None,
              **config: Any) -> Sanic:
    app = Sanic(name)
    app.config.WPM_THRESHOLD_SECONDS = 0.05
    app.config.WPM_LOCAL_OUTPUT_DIR = str(report_dir)
    app.config.WPM_ALERT_STORE_URL = "memory://"
    app.config.WPM_NOTIFY_RETRIES = 0
    app.config.update(config)
    WPM(app)

    if recorder is not None:
        @app.before_server_start
        async def record_alerts(app: Sanic) -> None:
            WPM.get_monitor(app).add_notifier(recorder)

    @app.get("/fast")
    async def fast(request: Request) -> Any:
        return json({"ok": True})

    @app.get("/items/<iid:int>", name="item")
    async def item(request: Request, iid: int) -> Any:
        await asyncio.sleep(0.01)
        slow_marker(0.06)
        return json({"iid": iid, "url": app.url_for("item", iid=iid)})

    @app.post("/echo")
    async def echo(request: Request) -> Any:
        slow_marker(0.06)
        return json({"json": request.json})

    @app.get("/boom")
    async def boom(request: Request) -> Any:
        slow_marker(0.06)
        raise ZeroDivisionError("handler bug")

    @app.get("/work/slow/<n:int>")
    async def work_slow(request: Request, n: int) -> Any:
        await asyncio.sleep(0.03)
        slow_marker(0.03)
        await asyncio.sleep(0.03)
        return json({"n": n})

    @app.get("/work/fast/<n:int>")
    async def work_fast(request: Request, n: int) -> Any:
        fast_marker(0.004)
        return json({"n": n})

    @app.get("/pid")
    async def pid(request: Request) -> Any:
        await asyncio.sleep(0.1)
        return json({"pid": os.getpid(), "t": time.time()})

    shop = Blueprint("shop", url_prefix="/shop")

    @shop.get("/orders/<oid:int>")
    async def order(request: Request, oid: int) -> Any:
        slow_marker(0.06)
        return json({"oid": oid})

    app.blueprint(shop)
    return app
