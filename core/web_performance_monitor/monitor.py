"""The monitor: times every request or call, decides what is slow, and hands slow ones off.

The request path does as little as possible: read a clock, start/stop the profiler, compare
with the threshold, bump counters. Capturing request data for a slow request means copying a
few references; parsing, masking, rendering, de-duplication and notification all happen on the
background worker.
"""

from __future__ import annotations

import atexit
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from .asgi import PerformanceMiddleware
from .backoff import OverheadBackoff
from .config import Config
from .decorator import monitored
from .events import SlowDetails, SlowEvent
from .log import ErrorLog, logger
from .masking import Masker, register_secret, scrub
from .notifiers import Notifier, open_notifiers
from .profiling import Profiler, ProfileResult, Span, make_profiler
from .ratelimit import MAX_REPORTS_PER_MINUTE, RateLimit
from .report import build_alert
from .stats import CHECK_EVERY, EndpointKey, Stats, endpoint_name
from .store import AlertStore, Claim, MemoryStore, open_store
from .worker import BackgroundWorker
from .wsgi import WSGIMiddleware

__all__ = ["PerformanceMonitor"]

F = TypeVar("F", bound=Callable[..., Any])

_perf = time.perf_counter
# ``describe(monitor, subject)``: the monitor passes itself (its config, its masker).
Describe = Callable[["PerformanceMonitor", Any], SlowDetails]


@dataclass(slots=True)
class _Parts:
    """Everything derived from one Config; swapped as a whole by ``update_config``."""

    config: Config
    masker: Masker
    store: AlertStore
    notifiers: list[Notifier]


class PerformanceMonitor:
    """Watches requests and calls; see the README for the whole picture."""

    retry_delay = 0.5  # seconds before the first notifier retry; doubles each time

    def __init__(self, config: Config | None = None) -> None:
        self.errors = ErrorLog()
        self.stats = Stats()
        # Read by every middleware on every request (a plain attribute: no property call);
        # change it through disable_monitoring() / enable_monitoring().
        self.enabled = True
        self._backoff = OverheadBackoff()
        self._sampler_busy = 0.0
        self._report_budget = RateLimit(MAX_REPORTS_PER_MINUTE, 60.0)
        self._extra_notifiers: list[Notifier] = []
        self._parts = self._build(config if config is not None else Config())
        self._threshold = self.config.threshold_seconds
        self._durations = self.stats.durations
        self._overheads = self.stats.overheads
        self._fallback_store = MemoryStore()
        self._profiler = self._new_profiler(self.config)
        self._worker = BackgroundWorker(self._handle, self.config.notify_queue_size,
                                        report_error=self.errors.report)
        _live_monitors.add(self)

    # --- configuration -------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._parts.config

    @property
    def masker(self) -> Masker:
        """Masks secrets in whatever an adapter captures (the configured sensitive keys)."""
        return self._parts.masker

    def _build(self, config: Config) -> _Parts:
        logger.setLevel(config.log_level)
        register_secret(config.mattermost_token)
        notifiers = [*open_notifiers(config), *self._extra_notifiers]
        for notifier in notifiers:
            notifier.report_error = self.errors.report
        return _Parts(config, Masker(config.sensitive_keys),
                      open_store(config.alert_store_url, config.local_output_dir), notifiers)

    def _new_profiler(self, config: Config) -> Profiler:
        profiler = make_profiler(config.profiler, config.profiler_interval,
                                 config.trigger_seconds)
        profiler.report_error = self.errors.report
        # Adapters call ``monitor.begin()``: bound straight to the profiler, one call per request.
        self.begin = profiler.begin
        self._end = profiler.end
        self._discard = profiler.discard
        return profiler

    def update_config(self, **changes: Any) -> None:
        """Apply validated changes at run time (``ConfigError`` leaves everything as it was)."""
        new = self._build(self.config.replace(**changes))
        old, self._parts = self._parts, new
        self._threshold = new.config.threshold_seconds
        old_profiler, self._profiler = self._profiler, self._new_profiler(new.config)
        old_profiler.close()
        self._backoff, self._sampler_busy = OverheadBackoff(), 0.0
        self._worker.flush(timeout=5)
        with self.errors.guard("closing the previous configuration"):
            old.store.close()
            for notifier in old.notifiers:
                if notifier not in self._extra_notifiers:
                    notifier.close()

    def add_notifier(self, notifier: Notifier) -> None:
        """Send alerts to ``notifier`` too (a ``Notifier`` subclass: Slack, e-mail, a queue...).

        Kept across ``update_config``; adding the same notifier again changes nothing.
        """
        if notifier in self._extra_notifiers:
            return
        notifier.report_error = self.errors.report
        self._extra_notifiers.append(notifier)
        self._parts.notifiers.append(notifier)

    # --- switches ------------------------------------------------------------------------

    def disable_monitoring(self) -> None:
        """Make every middleware and decorator of this monitor a pass-through."""
        self.enabled = False

    def enable_monitoring(self) -> None:
        self.enabled = True

    # --- the request path ----------------------------------------------------------------

    # ``begin(takeover=True) -> Span`` is the profiler's own ``begin``, bound in
    # ``_new_profiler``: start timing (and profiling) the current request or call; never raises.
    begin: Callable[..., Span]
    _end: Callable[[Any, bool], ProfileResult | None]
    _discard: Callable[[Any, None], Any]

    def finish(
        self,
        span: Span,
        kind: str,
        method: str,
        where: str,
        error: BaseException | None,
        describe: Describe,
        subject: Any,
        threshold: float | None = None,
    ) -> None:
        """End a span: decide slow or not, keep the profile only if slow, hand off. Never raises.

        ``where`` is the route template (or the raw path, or a function's name): all a fast
        request needs. ``describe(self, subject)`` tells the rest, and is only called when slow.
        """
        end = _perf()
        start, run, overhead = span
        duration = end - start
        limit = self._threshold if threshold is None else threshold
        key = (kind, method, where)
        if duration <= limit:  # the fast path: every request that is not slow
            try:
                self._discard(run, None)
            except Exception as exc:
                self.errors.report("stopping the profiler", exc)
        else:
            try:
                self.stats.count_slow(key)
                self._hand_off_slow(run, duration, limit, key, error, describe, subject)
            except Exception as exc:
                self.errors.report("finishing a request", exc)
        queue = self._durations.get(key)
        if queue is None:
            queue = self.stats.queue(key)
        queue.append(duration)
        overheads = self._overheads
        overheads.append(overhead + _perf() - end)
        if len(overheads) >= CHECK_EVERY and self.stats.fold():
            self._check_overhead()

    def _hand_off_slow(self, run: Any, duration: float, limit: float, key: EndpointKey,
                       error: BaseException | None, describe: Describe, subject: Any) -> None:
        kind, _, where = key
        details = SlowDetails(path=where)
        with self.errors.guard("capturing request data"):
            details = describe(self, subject)
        error = error if error is not None else details.error
        alert = self.config.is_url_alertable(details.path, details.route)
        profile = self._stop_profile(run, alert)
        if not alert:
            return
        status = details.status if details.status is not None else (500 if error else None)
        event = SlowEvent(kind=kind, endpoint=endpoint_name(*key),
                          duration=duration, threshold=limit,
                          started_at=time.time() - duration, pid=os.getpid(),
                          thread=threading.current_thread().name, status=status,
                          error=type(error).__qualname__ if error else None, profile=profile,
                          record=details.record, call=details.call)
        if not self._worker.submit(event):
            self.errors.report("queueing an alert", RuntimeError("alert queue is full"))

    def _stop_profile(self, run: Any, keep: bool) -> ProfileResult | None:
        try:
            return self._end(run, keep)
        except Exception as exc:
            self.errors.report("stopping the profiler", exc)
            return ProfileResult(note=f"the profiler failed: {exc!r}") if keep else None

    def _check_overhead(self) -> None:
        """Every 1,000 requests: the share of the process's time the monitor took, vs the limit.

        In-request time plus the sampler thread's, over the wall-clock time of those requests:
        what the monitor takes from the application. Not over the requests' own durations:
        where a framework times only the handler (Sanic's middleware sees a 10 µs span of a
        50 µs request), that ratio would back off from a cost the process never paid.
        """
        overhead = self.stats.overhead()
        busy = float(getattr(self._profiler, "busy_seconds", 0.0))
        spent = overhead["recent_monitor_seconds"] + busy - self._sampler_busy
        self._sampler_busy = busy
        share = spent / max(overhead["recent_wall_seconds"], 1e-9)
        change = self._backoff.adjust(share, self.config.max_performance_overhead, self._profiler)
        if change is not None:
            logger.warning("web_performance_monitor: %s", change)

    # --- the background worker -----------------------------------------------------------

    def _handle(self, event: SlowEvent) -> None:
        parts = self._parts
        with self.errors.guard("handling a slow request"):
            if not self._report_budget.take():  # a storm of new slow endpoints: count, skip
                self._with_store(parts, lambda store: store.suppress(event.endpoint))
                self.stats.count("alerts_suppressed")
                return
            claim = self._claim(parts, event.endpoint)
            if claim is None:
                self._with_store(parts, lambda store: store.suppress(event.endpoint))
                self.stats.count("alerts_suppressed")
                return
            alert = build_alert(event, parts.masker, parts.config.trace_headers,
                                claim.suppressed_before)
            delivered = self._deliver(parts.notifiers, alert)
            if delivered or not parts.notifiers:
                self.stats.count("alerts_sent")
                logger.info("web_performance_monitor: %s took %.3fs; alerted%s", event.endpoint,
                            event.duration,
                            f" (report {alert.report_path})" if alert.report_path else "")
            else:
                self.stats.count("alerts_failed")
                self._with_store(parts, lambda store: store.release(claim))

    def _claim(self, parts: _Parts, endpoint: str) -> Claim | None:
        window = parts.config.alert_window_days * 86400.0
        if window <= 0:
            return Claim(endpoint, "", 0)
        claim: Claim | None = self._with_store(parts, lambda store: store.claim(endpoint, window))
        return claim

    def _with_store(self, parts: _Parts, action: Callable[[AlertStore], Any]) -> Any:
        """Use the configured store; if it fails, an in-process one, so alerts are not lost."""
        try:
            return action(parts.store)
        except Exception as exc:
            self.errors.report("using the alert store", exc)
            return action(self._fallback_store)

    def _deliver(self, notifiers: list[Notifier], alert: Any) -> bool:
        delivered = False
        for notifier in notifiers:
            for attempt in range(self.config.notify_retries + 1):
                try:
                    notifier.send(alert)
                    delivered = True
                    break
                except Exception as exc:
                    self.errors.report(f"sending an alert to {notifier.name}", exc)
                    self.stats.notifier_failed(notifier.name)
                    if attempt < self.config.notify_retries:
                        time.sleep(self.retry_delay * 2**attempt)
        return delivered

    # --- public API ----------------------------------------------------------------------

    def create_middleware(self) -> Callable[[Any], Any]:
        """A WSGI middleware factory.

        ``app.wsgi_app = monitor.create_middleware()(app.wsgi_app)``
        """
        return functools.partial(WSGIMiddleware, monitor=self)

    def create_asgi_middleware(self) -> Callable[[Any], Any]:
        """An ASGI 3 middleware factory: ``app = monitor.create_asgi_middleware()(app)``."""
        return functools.partial(PerformanceMiddleware, monitor=self)

    @overload
    def create_decorator(self, func: F) -> F: ...

    @overload
    def create_decorator(
        self, func: None = None, *, threshold_seconds: float | None = None, name: str | None = None
    ) -> Callable[[F], F]: ...

    def create_decorator(
        self,
        func: F | None = None,
        *,
        threshold_seconds: float | None = None,
        name: str | None = None,
    ) -> F | Callable[[F], F]:
        """Monitor a function (sync or async); return values and exceptions pass unchanged."""
        def this() -> PerformanceMonitor:
            return self

        if func is not None:
            return monitored(this, func, threshold_seconds, name)
        return lambda fn: monitored(this, fn, threshold_seconds, name)

    def get_stats(self) -> dict[str, Any]:
        """Counters since start or the last ``reset_stats()``; safe to call from any thread."""
        stats = self.stats.snapshot()
        stats["enabled"] = self.enabled
        stats["threshold_seconds"] = self.config.threshold_seconds
        stats["alerts_dropped"] = self._worker.dropped
        stats["internal_errors"] = dict(self.errors.counts)
        stats["overhead_stats"].update(
            backoff_level=self._backoff.level, profiled_fraction=1 / self._profiler.every,
            profiler=self._profiler.name, profiler_interval=self._profiler.interval,
            sampler_busy_seconds=float(getattr(self._profiler, "busy_seconds", 0.0)))
        return stats

    def reset_stats(self) -> None:
        self.stats.reset()
        self.errors.reset()
        self._worker.dropped = 0

    def test_alert_system(self) -> dict[str, Any]:
        """Send a real test message through every enabled notifier. Never raises."""
        results: dict[str, bool] = {}
        errors: list[str] = []
        for notifier in self._parts.notifiers:
            try:
                notifier.send_test()
                results[notifier.name] = True
            except Exception as exc:
                results[notifier.name] = False
                errors.append(f"{notifier.name}: {type(exc).__name__}: {scrub(str(exc))[:300]}")
        if not results:
            errors.append("no notifier is enabled (enable_local_file / enable_mattermost)")
        return {
            "success": bool(results) and all(results.values()),
            "notifier_results": results,
            "error": "; ".join(errors) or None,
        }

    def start(self) -> None:
        """Start the background worker now rather than at the first slow request."""
        self._worker.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued alerts are sent; True when everything was handled in time."""
        return self._worker.flush(timeout)

    def close(self, timeout: float = 10.0, *, final: bool = False) -> None:
        """Send pending alerts, then release the worker, the store and the notifiers.

        The monitor keeps working afterwards (the worker restarts) unless ``final``, which the
        exit handler uses: after it, slow requests are still counted but no longer alerted.
        """
        self._worker.close(timeout, final=final)
        if final:
            self._profiler.close()
        with self.errors.guard("closing"):
            self._parts.store.close()
            for notifier in self._parts.notifiers:
                notifier.close()

    def __repr__(self) -> str:
        return f"<PerformanceMonitor enabled={self.enabled} {self.config!r}>"


_live_monitors: weakref.WeakSet[PerformanceMonitor] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At interpreter exit: flush every live monitor's pending alerts, through its error log."""
    for monitor in list(_live_monitors):
        with monitor.errors.guard("closing at exit"):
            monitor.close(timeout=5, final=True)
