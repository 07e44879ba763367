"""Apps the real-server benchmark serves; ``BENCH_VARIANT`` picks plain / wpm / naive."""

from __future__ import annotations

import os

from bench.variants import DJANGO_MIDDLEWARE, flask_app, sanic_app, setup_django

VARIANT = os.environ.get("BENCH_VARIANT", "plain")
SERVER = os.environ.get("BENCH_SERVER", "flask")

if SERVER == "flask":
    flask = flask_app(VARIANT)
elif SERVER == "sanic":
    sanic = sanic_app(VARIANT)
else:
    setup_django()
    from django.conf import settings

    settings.MIDDLEWARE = DJANGO_MIDDLEWARE[VARIANT]
    from django.core.handlers.asgi import ASGIHandler

    django_asgi = ASGIHandler()
