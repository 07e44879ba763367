"""What a monitored request or call did besides running Python: SQL queries, outgoing HTTP calls.

``context`` holds the per-request collection (a ``ContextVar`` set by the profiler's ``begin``)
and the record types; one module per source installs that source's official hook and records
into ``context.current()``. Diagnosis of what was captured lives in ``diagnosis``.
"""

from __future__ import annotations

from .context import Call, Captured, Query, Site, app_site, current

__all__ = ["Call", "Captured", "Query", "Site", "app_site", "current"]
