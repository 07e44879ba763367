"""SQL capture for Django: the core's execute wrapper on every connection of every alias.

Installed by the app's ``ready()`` when ``capture_sql`` is on: on the connections that already
exist in this thread, and on each new one as it connects (``connection_created``: Django makes
one connection per alias and thread). The wrapper's logic is the core's
(``capture_django_queries``); see Django's "Database instrumentation" docs.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created

from web_performance_monitor import ConfigError
from web_performance_monitor.adapter import capture_django_queries

from .conf import load_config


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    capture_django_queries(connection)


def install() -> bool:
    """Capture every query of monitored requests, unless ``capture_sql`` is off; True when
    installed. A configuration error installs nothing (``manage.py check`` reports it)."""
    try:
        if not load_config().capture_sql:
            return False
    except ConfigError:
        return False
    connection_created.connect(_on_connection_created, dispatch_uid="django_wpm.queries")
    for connection in connections.all(initialized_only=True):
        capture_django_queries(connection)
    return True
