"""Django settings for django_wpm's tests."""

from __future__ import annotations

import tempfile

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.django.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_wpm"]
MIDDLEWARE = [
    "django_wpm.middleware.PerformanceMonitorMiddleware",
    "django.middleware.common.CommonMiddleware",
]
# Test databases in files (not Django's in-memory default): a test module can close its
# connections when done (tests/django/test_queries.py), which an in-memory database ignores.
_DATABASES_DIR = tempfile.mkdtemp(prefix="wpm-django-db-")
DATABASES = {
    alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:",
            "TEST": {"NAME": f"{_DATABASES_DIR}/{alias}.sqlite3"}}
    for alias in ("default", "other")
}
WPM = {
    "THRESHOLD_SECONDS": 0.05,
    "LOCAL_OUTPUT_DIR": tempfile.mkdtemp(prefix="wpm-django-tests-"),
    "ALERT_STORE_URL": "memory://",
    "NOTIFY_RETRIES": 0,
}
