"""Views of django_wpm's query tests: N+1 over the ORM, executemany, a failing query, another
database alias, and an async view using the ORM through ``sync_to_async``. Each is slow
(``busy``) so its queries reach a report; the test finds the query lines by their comments."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, connections
from django.http import HttpRequest, JsonResponse

from tests.conftest import busy


def n_plus_one(request: HttpRequest) -> JsonResponse:
    busy(0.06)
    counts = {}
    for content_type in ContentType.objects.order_by("id"):
        counts[content_type.model] = content_type.permission_set.count()  # N+1 line
    return JsonResponse(counts)


def executemany(request: HttpRequest) -> JsonResponse:
    busy(0.06)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS wpm_rows (x INTEGER)")
        cursor.executemany("INSERT INTO wpm_rows (x) VALUES (%s)", [(i,) for i in range(4)])
        cursor.execute("SELECT count(*) FROM wpm_rows")
        return JsonResponse({"rows": cursor.fetchone()[0]})


def failing(request: HttpRequest) -> JsonResponse:
    busy(0.06)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT missing FROM nowhere")
    except DatabaseError as exc:
        return JsonResponse({"raised": f"{type(exc).__module__}.{type(exc).__qualname__}",
                             "message": str(exc)})
    return JsonResponse({"raised": None})


def other_database(request: HttpRequest) -> JsonResponse:
    busy(0.06)
    with connections["other"].cursor() as cursor:
        cursor.execute("SELECT 42")  # other alias line
        return JsonResponse({"answer": cursor.fetchone()[0]})


def _models() -> list[str]:
    types = list(ContentType.objects.order_by("id"))  # thread line
    return [content_type.model for content_type in types]


async def async_orm(request: HttpRequest) -> JsonResponse:
    busy(0.06)
    return JsonResponse({"models": await sync_to_async(_models)()})
