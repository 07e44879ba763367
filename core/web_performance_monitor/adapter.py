"""The adapter contract: every core name a framework adapter may use, beyond the package root.

``flask_wpm``, ``django_wpm`` and ``sanic_wpm`` import only from ``web_performance_monitor`` and
from this module (a test checks it), the way sentry-python's integrations build on its shared
``_wsgi_common`` layer. Names here are kept stable for third-party adapters too; everything else
in the core may move.

The request path an adapter drives (see ``PerformanceMonitor``):

    span = monitor.begin()            # never raises; the profiler's own bound method
    ...                               # the application runs
    monitor.finish(span, "request", method, route_or_path, error, describe, subject)

An adapter names the app it watches when it builds the monitor:
``PerformanceMonitor(config, service=..., framework=framework_label("Flask", "flask"))``
(the service is the default of ``service_name``; ``identify`` for a monitor built earlier).
The route it passes is the template as served, prefixes included (``served_route``).

``describe(monitor, subject) -> SlowDetails`` is called only for slow requests.

The framework commands (``flask wpm ...``, ``manage.py wpm_...``, ``python -m sanic_wpm``) run
``cli`` with the application's configuration: ``cli.main(argv, config=..., monitor=...)``, or
``cli.add_arguments``/``cli.run`` where the framework parses the command line itself.
"""

from __future__ import annotations

from . import cli
from .capture.sql import capture_django_queries
from .config import FIELD_NAMES, check_field, environment_layer, suggest_key
from .decorator import monitored
from .events import SlowDetails
from .identity import framework_label, top_package
from .monitor import Describe
from .profiling import Span, request_boundary
from .request import UNMATCHED_ROUTE, RequestRecord, wsgi_text
from .streaming import once, timed_aiter, timed_iter
from .wsgi import BODY_COMPLETE_KEY, ERROR_KEY, ROUTE_KEY, STATUS_KEY, WSGIMiddleware

__all__ = [
    "BODY_COMPLETE_KEY",
    "ERROR_KEY",
    "FIELD_NAMES",
    "ROUTE_KEY",
    "STATUS_KEY",
    "UNMATCHED_ROUTE",
    "Describe",
    "RequestRecord",
    "SlowDetails",
    "Span",
    "WSGIMiddleware",
    "capture_django_queries",
    "check_field",
    "cli",
    "environment_layer",
    "framework_label",
    "monitored",
    "once",
    "request_boundary",
    "suggest_key",
    "timed_aiter",
    "timed_iter",
    "top_package",
    "wsgi_text",
]
