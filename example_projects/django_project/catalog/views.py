"""A fast view, a slow view doing N+1 ORM queries on SQLite, and an async view."""

import asyncio
import os

from django.db import transaction
from django.http import HttpRequest, JsonResponse

from .models import Product, Review


def fast(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "pid": os.getpid()})


def _seed() -> None:
    if Product.objects.exists():
        return
    with transaction.atomic():
        for i in range(200):
            product = Product.objects.create(name=f"product {i}", price_cents=100 + i)
            Review.objects.bulk_create(Review(product=product, stars=1 + i % 5) for _ in range(3))


def slow_report(request: HttpRequest, pk: int) -> JsonResponse:
    """The classic N+1: one query per product for its reviews (2,400 queries: several times
    the 0.1 s threshold on any machine, so it is always the slow one)."""
    _seed()
    total = 0
    for _ in range(12):
        for product in Product.objects.all():
            total += sum(review.stars for review in product.reviews.all())
    return JsonResponse({"product": pk, "stars": total, "pid": os.getpid()})


async def async_view(request: HttpRequest, n: int) -> JsonResponse:
    await asyncio.sleep(0.3)
    return JsonResponse({"n": n, "pid": os.getpid()})
