"""A small real project watched by django_wpm.

    python manage.py migrate && python manage.py runserver
    uvicorn mysite.asgi:application        gunicorn mysite.wsgi:application -w 4
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_wpm",
    "catalog",
]

MIDDLEWARE = [
    "django_wpm.middleware.PerformanceMonitorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

WPM = {
    "THRESHOLD_SECONDS": 0.1,
    "LOCAL_OUTPUT_DIR": os.environ.get("EXAMPLE_REPORT_DIR", str(BASE_DIR / "reports")),
    "ALERT_WINDOW_DAYS": 1,
    "URL_BLACKLIST": ["/health/"],
}
