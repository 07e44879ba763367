"""URLs of the Django benchmark app: sync and async views for each workload."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import path

from bench.workloads import WORKLOADS


def _sync_view(work: Any) -> Any:
    def view(request: Any) -> HttpResponse:
        return HttpResponse(work())

    return view


def _async_view(work: Any) -> Any:
    async def view(request: Any) -> HttpResponse:
        return HttpResponse(work())

    return view


urlpatterns = [path(f"sync/{n}", _sync_view(w)) for n, w in WORKLOADS.items()] + [
    path(f"async/{n}", _async_view(w)) for n, w in WORKLOADS.items()]
