"""Profiling engines behind one interface (``base``); ``make_profiler`` picks the configured one.

``sampler`` (the default) samples only requests that run long, from one background thread;
``pyinstrument_engine`` runs pyinstrument's own profiler around every request.
"""

from __future__ import annotations

from .base import (
    FAILED,
    NESTED,
    SKIPPED,
    Profiler,
    ProfileResult,
    ProfileRun,
    Span,
    request_boundaries,
    request_boundary,
)
from .pyinstrument_engine import PyinstrumentProfiler
from .sampler import SamplingProfiler

__all__ = [
    "FAILED",
    "NESTED",
    "SKIPPED",
    "ProfileResult",
    "ProfileRun",
    "Profiler",
    "PyinstrumentProfiler",
    "SamplingProfiler",
    "Span",
    "make_profiler",
    "request_boundaries",
    "request_boundary",
]


def make_profiler(name: str, interval: float, trigger: float) -> Profiler:
    """The profiler named by ``Config.profiler`` (``"sampler"`` or ``"pyinstrument"``)."""
    if name == "pyinstrument":
        return PyinstrumentProfiler(interval)
    return SamplingProfiler(interval, trigger)
