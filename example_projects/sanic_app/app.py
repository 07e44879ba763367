"""A Sanic app watched by sanic_wpm.

Run it:  cd example_projects/sanic_app && sanic app:app --workers 2
Then:    curl http://127.0.0.1:8000/fast ; curl http://127.0.0.1:8000/items/1
Settings are app.config.WPM_* keys, or SANIC_WPM_* environment variables.
"""

from __future__ import annotations

import asyncio
import hashlib
import os

from sanic import Request, Sanic, json
from sanic.response import JSONResponse

from sanic_wpm import WPM

app = Sanic("example")
app.config.WPM_THRESHOLD_SECONDS = 0.2
app.config.WPM_LOCAL_OUTPUT_DIR = os.path.join(os.path.dirname(__file__), "reports")
WPM(app)


@app.get("/fast")
async def fast(request: Request) -> JSONResponse:
    return json({"status": "ok"})


def build_digest(rounds: int) -> str:
    value = b"seed"
    for _ in range(rounds):
        value = hashlib.sha256(value).digest()
    return value.hex()


@app.get("/items/<item_id:int>")
async def item(request: Request, item_id: int) -> JSONResponse:
    await asyncio.sleep(0.2)  # waiting on "the database"
    return json({"item": item_id, "digest": build_digest(50_000)})
