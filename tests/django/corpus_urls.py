"""URLs for the planted-secret corpus (``tests/secret_corpus.py``), Django's way."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.secret_corpus import Corpus

CORPUS = Corpus("DJ")


def read_everything(request: HttpRequest, **values: Any) -> HttpResponse:
    """A view that reads its body (so the report may show it, masked)."""
    request.body  # noqa: B018 - reading is the point
    return HttpResponse("ok")


urlpatterns = [path(call.route_as("django"), read_everything) for call in CORPUS.routes]
