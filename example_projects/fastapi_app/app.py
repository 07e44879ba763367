"""A FastAPI app watched by web-performance-monitor's ASGI middleware.

Run it:  cd example_projects/fastapi_app && uvicorn app:app
Then:    curl http://127.0.0.1:8000/fast ; curl http://127.0.0.1:8000/reports/1
Configuration comes from WPM_* environment variables (e.g. WPM_LOCAL_OUTPUT_DIR).
"""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import FastAPI

from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.asgi import PerformanceMiddleware

monitor = PerformanceMonitor(Config.from_env())
app = FastAPI()
app.add_middleware(PerformanceMiddleware, monitor=monitor)


@app.get("/fast")
async def fast() -> dict[str, str]:
    return {"status": "ok"}


def build_digest(rounds: int) -> str:
    value = b"seed"
    for _ in range(rounds):
        value = hashlib.sha256(value).digest()
    return value.hex()


@app.get("/reports/{report_id}")
async def report(report_id: int) -> dict[str, object]:
    await asyncio.sleep(0.2)  # waiting on "the database"
    return {"report": report_id, "digest": build_digest(50_000)}
