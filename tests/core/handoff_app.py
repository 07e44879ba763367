"""A FastAPI app whose slow routes hand their work to threads and child tasks.

Used in-process (``make_app(monitor)``) and under uvicorn (``create``, configured from ``WPM_*``
environment variables, with ``/_alerts`` telling what each alert's profile holds).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from asgiref.sync import sync_to_async
from fastapi import FastAPI

from tests.core.summaries import Summaries
from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.asgi import PerformanceMiddleware


def burn(seconds: float) -> None:
    """Burn CPU (not sleep) so the profile has frames to show."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def crunch_invoice_totals() -> int:
    burn(0.3)
    return 1


def crunch_in_to_thread() -> int:
    burn(0.3)
    return 2


def crunch_in_executor() -> int:
    burn(0.3)
    return 3


def crunch_in_asgiref() -> int:
    burn(0.3)
    return 4


async def child_burning(seconds: float) -> None:
    await asyncio.sleep(0.02)
    burn(seconds)


async def child_sleeping() -> None:
    await asyncio.sleep(0.05)


async def child_in_thread() -> None:
    await asyncio.to_thread(crunch_in_to_thread)


def make_app(monitor: PerformanceMonitor) -> FastAPI:
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)

    @api.get("/invoice")
    def invoice() -> dict[str, int]:  # FastAPI runs a def route in its threadpool (anyio)
        return {"total": crunch_invoice_totals()}

    @api.get("/to_thread")
    async def to_thread() -> dict[str, int]:
        return {"n": await asyncio.to_thread(crunch_in_to_thread)}

    @api.get("/executor")
    async def executor() -> dict[str, int]:  # copies no contextvars into the thread
        return {"n": await asyncio.get_running_loop().run_in_executor(None, crunch_in_executor)}

    @api.get("/asgiref")
    async def asgiref() -> dict[str, int]:
        return {"n": await sync_to_async(crunch_in_asgiref)()}

    @api.get("/gather")
    async def gather() -> dict[str, int]:
        await asyncio.gather(child_burning(0.3), child_sleeping())
        return {"n": 5}

    @api.get("/taskgroup")
    async def taskgroup() -> dict[str, int]:
        async with asyncio.TaskGroup() as group:
            group.create_task(child_burning(0.3))
            group.create_task(child_in_thread())
        return {"n": 6}

    @api.get("/task")
    async def task() -> dict[str, int]:
        await asyncio.create_task(child_burning(0.3))
        return {"n": 7}

    @api.get("/wait")
    async def wait() -> dict[str, int]:
        await asyncio.wait({asyncio.create_task(child_burning(0.3))})
        return {"n": 8}

    @api.get("/wait_for")
    async def wait_for() -> dict[str, int]:
        await asyncio.wait_for(child_burning(0.3), timeout=30)
        return {"n": 9}

    @api.get("/shield")
    async def shield() -> dict[str, int]:
        await asyncio.shield(asyncio.to_thread(crunch_in_to_thread))
        return {"n": 10}

    return api


def create() -> FastAPI:
    """The app uvicorn serves (``--factory``): its monitor from ``WPM_*`` variables."""
    monitor = PerformanceMonitor(Config.from_env())
    summaries = Summaries()
    monitor.add_notifier(summaries)
    app = make_app(monitor)

    @app.get("/_alerts")
    def alerts() -> list[dict[str, Any]]:
        monitor.flush()
        return summaries.alerts

    return app
