"""A Django view's outgoing calls, through the middleware and Django's Client/AsyncClient:
sync views (in the request's thread, or in the thread ``sync_to_async`` runs them in under
ASGI) and async views."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import requests
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client
from django.urls import path

from tests.conftest import RecordingNotifier
from web_performance_monitor import PerformanceMonitor


def stock(request: HttpRequest, item: int) -> JsonResponse:
    answer = requests.get(f"{settings.HTTP_TARGET}/stock?delay=0.06&item={item}", timeout=5)
    return JsonResponse({"stock": answer.text})


async def price(request: HttpRequest, item: int) -> JsonResponse:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{settings.HTTP_TARGET}/price?delay=0.06&item={item}") as answer:
            return JsonResponse({"price": await answer.text()})


urlpatterns = [path("stock/<int:item>/", stock), path("price/<int:item>/", price)]


@pytest.fixture
def urls(settings: Any, http_target: str) -> None:
    settings.ROOT_URLCONF = __name__
    settings.HTTP_TARGET = http_target


@pytest.mark.parametrize(("client", "view", "library"), [
    ("Client", stock, "requests"),
    ("AsyncClient", stock, "requests"),  # a sync view: in sync_to_async's thread
    ("AsyncClient", price, "aiohttp"),
])
def test_a_views_outgoing_call_is_in_its_slow_event(urls: None, dj_monitor: PerformanceMonitor,
                                                    recorder: RecordingNotifier,
                                                    http_target: str, client: str, view: Any,
                                                    library: str) -> None:
    name = view.__name__
    if client == "Client":
        response = Client().get(f"/{name}/7/")
    else:
        response = asyncio.run(AsyncClient().get(f"/{name}/7/"))
    assert response.json() == {name: f"ok /{name}"}
    dj_monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == f"GET {name}/<int:item>/"
    assert alert.event.captured is not None
    [made] = alert.event.captured.calls
    assert (made.url, made.status, made.library) == (
        f"{http_target}/{name}?delay=0.06&item=7", 200, library)
    assert made.site is not None and made.site[:2] == (__file__, view.__qualname__)
