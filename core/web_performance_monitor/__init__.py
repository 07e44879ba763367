"""web-performance-monitor: find slow endpoints, profile them, alert once per endpoint.

The framework-agnostic core. ``flask_wpm``, ``django_wpm`` and ``sanic_wpm`` adapt it to their
frameworks; the WSGI middleware and the decorator cover everything else.
"""

from importlib.metadata import PackageNotFoundError, version

from .config import Config, ConfigError
from .monitor import PerformanceMonitor
from .request import RequestRecord

try:  # one source of truth: pyproject.toml, through the installed metadata
    __version__ = version("web-performance-monitor")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = ["Config", "ConfigError", "PerformanceMonitor", "RequestRecord", "__version__"]
