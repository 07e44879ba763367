"""web-performance-monitor: find slow endpoints, profile them, alert once per endpoint.

The framework-agnostic core. ``flask_wpm``, ``django_wpm`` and ``sanic_wpm`` adapt it to their
frameworks; the WSGI middleware and the decorator cover everything else.
"""

from .config import Config, ConfigError
from .monitor import PerformanceMonitor
from .request import RequestRecord

__version__ = "2.0.0.dev0"

__all__ = ["Config", "ConfigError", "PerformanceMonitor", "RequestRecord", "__version__"]
