"""Views for django_wpm's tests: fast, slow, async, body readers, streaming, failing."""

from __future__ import annotations

import asyncio
import json

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from django_wpm import monitor_function
from tests.conftest import busy


def fast(request: HttpRequest) -> HttpResponse:
    return HttpResponse("fast")


def user(request: HttpRequest, uid: int) -> JsonResponse:
    busy(0.07)
    return JsonResponse({"id": uid})


def crunch(request: HttpRequest) -> JsonResponse:
    """Long enough that a thread pool starting its thread under load still shows the work."""
    busy(0.3)
    return JsonResponse({"done": True})


async def async_user(request: HttpRequest, uid: int) -> JsonResponse:
    await asyncio.sleep(0.02)
    busy(0.06)
    return JsonResponse({"id": uid, "async": True})


def echo_body(request: HttpRequest) -> JsonResponse:
    busy(0.06)
    return JsonResponse({"json": json.loads(request.body or b"null")})


def echo_form(request: HttpRequest) -> JsonResponse:
    busy(0.06)
    return JsonResponse({"form": request.POST.dict(),
                         "files": {k: f.size for k, f in request.FILES.items()}})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks():  # type: ignore[no-untyped-def]
        for i in range(3):
            busy(0.03)
            yield f"{i}\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    busy(0.06)
    raise ZeroDivisionError("view bug")


@monitor_function(threshold_seconds=0.01)
def compute(n: int) -> int:
    busy(0.03)
    return n + 1


@monitor_function
async def compute_async(n: int) -> int:
    await asyncio.sleep(0.06)
    return n * 2


def uses_helper(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"value": compute(1)})
