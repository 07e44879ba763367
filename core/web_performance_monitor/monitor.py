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
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from .asgi import PerformanceMiddleware
from .backoff import OverheadBackoff
from .capture import Captured, sql, sqlalchemy_events
from .capture.context import leave, limits
from .capture.http_calls import capture_calls
from .capture.http_calls import refresh as refresh_calls
from .config import Config
from .decorator import monitored
from .diagnosis import Rules
from .events import Alert, SlowDetails, SlowEvent
from .files import resolve_paths
from .history import AlertRecord
from .identity import service_of
from .index import refresh_index
from .log import ErrorLog, logger
from .masking import Masker, register_secret, scrub
from .notifiers import Notifier, open_notifiers
from .notifiers.channel import Channel, Delivery
from .profiling import Profiler, ProfileResult, SamplingProfiler, Span, make_profiler
from .ratelimit import RateLimit
from .report import build_alert
from .sizing import alert_bytes, event_bytes, shrink_profile
from .stats import CHECK_EVERY, EndpointKey, Kind, Stats, endpoint_name
from .store import AlertStore, Claim, FailoverStore, MemoryStore, configured_store
from .worker import BackgroundWorker
from .wsgi import WSGIMiddleware

__all__ = ["PerformanceMonitor"]

F = TypeVar("F", bound=Callable[..., Any])

_perf = time.perf_counter
_HOST = socket.gethostname()  # for alert records: which host of several served the request
EXIT_SECONDS = 5.0  # at interpreter exit, for pending alerts of all monitors together
# ``describe(monitor, subject)``: the monitor passes itself (its config, its masker).
Describe = Callable[["PerformanceMonitor", Any], SlowDetails]


@dataclass(slots=True)
class _Parts:
    """Everything derived from one Config; swapped as a whole by ``update_config``."""

    config: Config
    masker: Masker
    store: AlertStore
    notifiers: list[Notifier]  # all of them, for test_alert_system and close
    local: list[Notifier]  # run inline on the alert worker, first
    channels: list[Channel]  # one per network notifier: own queue, thread, retries, breaker
    budget: RateLimit | None  # max_alerts_per_minute (None: no cap)


class PerformanceMonitor:
    """Watches requests and calls; see the README for the whole picture.

    The request path (``begin``/``finish``) is what every request pays, so it is written for
    CPython 3.11's specialising interpreter, each choice measured with ``make bench-instructions``
    (callgrind; README "Measured"):

    - ``monitor.begin`` *is* the profiler's bound ``begin`` (set in ``_new_profiler``): one call
      per request, not a wrapper calling it.
    - The sampler's fast-path release is its registry's own ``dict.pop``
      (``SamplingProfiler.discard``): no Python frame for a request that was not slow.
    - A span is a plain tuple ``(start, run, overhead)`` and the sampler's registration a tuple:
      a tuple display instantiates no class (a namedtuple ``__new__`` alone was ~1,700
      instructions).
    - Statistics are deque appends folded in C (``Stats``), every ``CHECK_EVERY`` requests.
    - Everything else (describing the request, masking, rendering, de-duplication, sending)
      happens only for slow requests, on the background worker.
    """

    def __init__(self, config: Config | None = None, *, service: str | None = None,
                 framework: str | None = None) -> None:
        """``service`` and ``framework``: the adapter's identity of the app it watches (see
        ``identify``); the start-up line is logged once it is known."""
        self.errors = ErrorLog()
        self.stats = Stats()
        self._retry_delay = 0.5
        self._warned: set[str] = set()
        # Read by every middleware on every request (a plain attribute: no property call);
        # change it through disable_monitoring() / enable_monitoring().
        self.enabled = True
        self._backoff = OverheadBackoff()
        self._sampler_busy = 0.0
        self._extra_notifiers: list[Notifier] = []
        self._parts = self._build(config if config is not None else Config())
        self._hook_calls(self.config)
        self._threshold = self.config.threshold_seconds
        self._durations = self.stats.durations
        self._overheads = self.stats.overheads
        self._profiler = self._new_profiler(self.config)
        # endpoint -> its slow event waiting in the alert queue (see ``_queue``)
        self._waiting: dict[str, SlowEvent] = {}
        self._waiting_lock = threading.Lock()
        # Holds ``_handle`` weakly: a monitor nobody uses is freed and the thread ends.
        self._worker = BackgroundWorker(self._handle, self.config.notify_queue_size,
                                        self.config.notify_queue_bytes,
                                        report_error=self.errors.report,
                                        on_drop=self._dropped)
        _live_monitors.add(self)
        self._default_service = ""
        self.framework = ""  # what serves the app ("Flask 3.1.3", "WSGI", "function")
        self._identity_rank = 0
        if service is not None or framework is not None:
            self.identify(service or "", framework or "")

    # --- identity ------------------------------------------------------------------------

    @property
    def service_name(self) -> str:
        """The service every endpoint belongs to: ``service_name`` when configured, else the
        adapter's default (``identify``); "" before either is known."""
        return self.config.service_name or self._default_service

    def note_double_wrap(self) -> None:
        """A middleware of this monitor was wrapped around another one of it (e.g. both
        ``app.add_middleware(PerformanceMiddleware, ...)`` and ``create_asgi_middleware()``):
        the outer one passes requests through, so each is timed once. Said once."""
        self._warn_once("double wrap", "this monitor's middleware is applied twice to the same "
                        "app; the outer one passes requests through (each request is timed "
                        "once): keep one of the two")

    def identify(self, service: str, framework: str, *, weak: bool = False) -> None:
        """The adapter names the app it watches: its default service name (used when
        ``service_name`` is not configured) and what serves it ("Django 5.2.19", "WSGI").

        The first app a monitor wraps names it; a decorator's name (``weak``) gives way to a
        middleware's, since a module's decorators often run before the app is wrapped. The
        start-up line is logged when the identity is first known, and again if a middleware
        replaces a decorator's.
        """
        rank = 1 if weak else 2
        if rank <= self._identity_rank:
            return
        self._identity_rank = rank
        self._default_service, self.framework = service, framework
        logger.info("web_performance_monitor: %s", self._describe_setup())

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
        limits["max_records"] = config.max_queries_per_request
        sql.configure(config.capture_sql, config.capture_sql_parameters, self.errors.report)
        if config.capture_sql:
            with self.errors.guard("installing the SQLAlchemy hooks"):
                sqlalchemy_events.install()
        for secret in config.secret_values():  # tokens, robot secrets, webhook keys
            register_secret(secret)
        config = resolve_paths(config)
        notifiers = [*open_notifiers(config), *self._extra_notifiers]
        for notifier in notifiers:
            notifier.report_error = self.errors.report
        cap = config.max_alerts_per_minute
        return _Parts(config, Masker(config.sensitive_keys), self._open_store(config), notifiers,
                      [notifier for notifier in notifiers if notifier.local],
                      [self._channel(notifier, config) for notifier in notifiers
                       if not notifier.local],
                      RateLimit(cap, 60.0) if cap else None)

    def _hook_calls(self, config: Config | None) -> None:
        """Capture outgoing HTTP calls while ``config.capture_http_calls`` (None: no more):
        the hooks are installed with the first such monitor, undone with the last
        (``capture/http_calls.py``)."""
        with self.errors.guard("hooking outgoing HTTP calls"):
            capture_calls(self, self.errors if config and config.capture_http_calls else None)

    def _channel(self, notifier: Notifier, config: Config) -> Channel:
        return Channel(notifier, retries=config.notify_retries, retry_delay=self._retry_delay,
                       queue_size=config.notify_queue_size, queue_bytes=config.notify_queue_bytes,
                       size=alert_bytes, report_error=self.errors.report,
                       count_failure=self.stats.notifier_failed)

    @property
    def retry_delay(self) -> float:
        """Seconds before a channel's first retry (then doubling, jittered); tests shorten it."""
        return self._retry_delay

    @retry_delay.setter
    def retry_delay(self, seconds: float) -> None:
        self._retry_delay = seconds
        for channel in self._parts.channels:
            channel.retry_delay = seconds

    def _describe_setup(self) -> str:
        """One line saying what this monitor does: threshold, window, where alerts go."""
        config = self.config
        notifiers = ", ".join(n.name for n in self._parts.notifiers) or "none"
        folder = (f", reports in {os.path.abspath(config.local_output_dir)}"
                  if config.enable_local_file else "")
        store = self.masker.text(config.alert_store_url or "SQLite in the report folder")
        return (f"monitoring requests slower than {config.threshold_seconds:g}s "
                f"(one alert per endpoint per {config.alert_window_days:g} days) of service "
                f"{self.service_name or '(unnamed)'} ({self.framework or 'unknown'}){folder}; "
                f"notifiers: {notifiers}; alert store: {store}; profiler: {config.profiler}")

    def _open_store(self, config: Config) -> FailoverStore:
        """The configured store behind its in-memory stand-in (see ``FailoverStore``), with
        the report retention (``store.Retention.from_config``)."""
        store = configured_store(config)
        name = config.alert_store_url or os.path.join(config.local_output_dir, "sqlite")
        if isinstance(store, MemoryStore):
            name = f"memory:{id(store)}"
        return FailoverStore(store, name, self.errors.report)

    def _new_profiler(self, config: Config) -> Profiler:
        profiler = make_profiler(config.profiler, config.profiler_interval,
                                 config.trigger_seconds)
        profiler.report_error = self.errors.report
        if isinstance(profiler, SamplingProfiler):  # its thread checks its own cost each second
            profiler.on_busy = functools.partial(_sampler_busy, self._backoff,
                                                 config.max_performance_overhead)
        # Adapters call ``monitor.begin()``: bound straight to the profiler, one call per request.
        self.begin = profiler.begin
        self._end = profiler.end
        self._discard = profiler.discard
        return profiler

    def update_config(self, **changes: Any) -> None:
        """Apply validated changes at run time (``ConfigError`` leaves everything as it was)."""
        new = self._build(self.config.replace(**changes))
        old, self._parts = self._parts, new
        self._hook_calls(new.config)
        self._threshold = new.config.threshold_seconds
        self._backoff, self._sampler_busy = OverheadBackoff(), 0.0
        old_profiler, self._profiler = self._profiler, self._new_profiler(new.config)
        old_profiler.close()
        self._worker.flush(timeout=5)
        self._close_channels(old.channels, 5.0, final=False)
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
        parts = self._parts
        parts.notifiers.append(notifier)
        if notifier.local:
            parts.local.append(notifier)
        else:
            parts.channels.append(self._channel(notifier, parts.config))

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
        kind: Kind,
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
        start, run, overhead, slot, holder = span
        duration = end - start
        limit = self._threshold if threshold is None else threshold
        key = (kind, method, where)
        if duration <= limit:  # the fast path: every request that is not slow
            try:
                self._discard(run, None)
            except Exception as exc:
                self.errors.report("stopping the profiler", exc)
            if slot is not None and slot[1] is holder:  # ``leave``, inlined
                slot[1] = None
        else:
            try:
                self.stats.count_slow(key)
                self._hand_off_slow(run, start, duration, limit, key, error, describe, subject,
                                    leave(slot, holder))
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

    def _hand_off_slow(self, run: Any, start: float, duration: float, limit: float,
                       key: EndpointKey, error: BaseException | None, describe: Describe,
                       subject: Any, captured: Captured | None) -> None:
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
                          record=details.record, call=details.call, captured=captured,
                          origin=start, service=self.service_name,
                          framework=self.framework)
        if not self._queue(event):  # counted in alerts_dropped
            self._warn_once("queue full", "the alert queue is full (notify_queue_size, "
                            "notify_queue_bytes): slow requests are counted in "
                            "get_stats()['alerts_dropped'] and not alerted")

    def _queue(self, event: SlowEvent) -> bool:
        """Hand ``event`` to the alert worker; False when the queue is full.

        A repeat of an endpoint whose event still waits in the queue is folded into it (counted
        there): de-duplication would suppress it anyway, and 300 repeats of ``GET /a`` must not
        fill the queue and drop ``GET /b``. With ``alert_window_days=0`` each slow request is
        its own alert. The queue is bounded in bytes too: a deep profile is merged first.
        """
        if self.config.alert_window_days > 0:
            with self._waiting_lock:
                earlier = self._waiting.get(event.endpoint)
                if earlier is not None:
                    earlier.repeats += 1
                    return True
                self._waiting[event.endpoint] = event
        shrink_profile(event.profile, self.config.max_profile_bytes)
        return self._worker.submit(event, event_bytes(event))

    def _unqueue(self, event: SlowEvent) -> int:
        """Take ``event`` out of the waiting ones: how many repeats were folded into it (0 if
        it was taken out before)."""
        with self._waiting_lock:
            if self._waiting.get(event.endpoint) is not event:
                return 0
            del self._waiting[event.endpoint]
            return event.repeats

    def _dropped(self, event: SlowEvent) -> None:
        """The alert queue dropped ``event``: its folded repeats are dropped with it."""
        self._worker.count_dropped(self._unqueue(event))

    def _stop_profile(self, run: Any, keep: bool) -> ProfileResult | None:
        try:
            return self._end(run, keep)
        except Exception as exc:
            self.errors.report("stopping the profiler", exc)
            return ProfileResult(note=f"the profiler failed: {exc!r}") if keep else None

    def _hook_imported(self) -> None:
        """Hook the SQL and HTTP libraries the application imported after the monitor started
        (only imported ones are hooked: ``capture/``)."""
        config = self.config
        with self.errors.guard("hooking libraries imported since"):
            if config.capture_sql:
                sqlalchemy_events.install()
            if config.capture_http_calls:
                refresh_calls()

    def _check_overhead(self) -> None:
        """Every 1,000 requests: the share of the process's time the monitor took, vs the limit.

        (The sampler thread also checks its own share every second, ``_sampler_busy``.)

        In-request time plus the sampler thread's, over the wall-clock time of those requests:
        what the monitor takes from the application. Not over the requests' own durations:
        where a framework times only the handler (Sanic's middleware sees a 10 µs span of a
        50 µs request), that ratio would back off from a cost the process never paid.
        """
        self._hook_imported()
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
        """De-duplicate, then rate-limit, render, write the local report, feed the channels.

        The rate limit comes after de-duplication: repeats of one endpoint (suppressed anyway)
        must not use up the places of new endpoints.
        """
        parts = self._parts
        repeats = self._unqueue(event)  # none are folded into it from now on
        with self.errors.guard("handling a slow request"):
            claim = self._claim(parts, event)
            if claim is None:
                self._hold_back(parts, event, 1 + repeats)
                self.stats.count("alerts_suppressed", 1 + repeats)
                logger.debug("web_performance_monitor: %s took %.3fs; not alerted: it alerted "
                             "within the last %g days (alert_window_days)", event.endpoint,
                             event.duration, parts.config.alert_window_days)
                return
            if repeats:  # later than this one: told in the endpoint's next alert
                self._hold_back(parts, event, repeats)
                self.stats.count("alerts_suppressed", repeats)
            if parts.budget is not None and not parts.budget.take():
                # Given back with this request counted: the endpoint alerts with its next one.
                self._give_back(parts, claim)
                self.stats.count("alerts_rate_limited")
                self._warn_once("rate limit", f"max_alerts_per_minute "
                                f"({parts.config.max_alerts_per_minute}) reached: new alerts "
                                "beyond it are counted in get_stats()['alerts_rate_limited'] and "
                                "sent with the endpoint's next slow request")
                return
            alert = build_alert(event, parts.masker, parts.config.trace_headers,
                                claim.suppressed_before, Rules.of(parts.config))
            self._deliver(parts, alert, claim)
            refresh_index(parts.config, parts.store, self.errors.report)

    def _claim(self, parts: _Parts, event: SlowEvent) -> Claim | None:
        """The window of the event's ``(service, endpoint)``; None when it is taken."""
        window = parts.config.alert_window_days * 86400.0
        if window <= 0:
            return Claim(event.endpoint, "", 0, event.service)
        claim: Claim | None = self._with_store(
            parts, lambda store: store.claim(event.endpoint, window, service=event.service))
        return claim

    def _hold_back(self, parts: _Parts, event: SlowEvent, count: int) -> None:
        """Count ``count`` slow requests of the event's endpoint as held back by its window
        (the repeats folded into it are known by number only: its duration stands for them)."""
        self._with_store(parts, lambda store: store.suppress(
            event.endpoint, count, service=event.service, duration=event.duration,
            at=event.started_at))

    def _give_back(self, parts: _Parts, claim: Claim) -> None:
        _give_back(self.errors, parts.store, claim)

    def _with_store(self, parts: _Parts, action: Callable[[AlertStore], Any]) -> Any:
        return _use_store(self.errors, parts.store, action)

    def _deliver(self, parts: _Parts, alert: Alert, claim: Claim) -> None:
        """The local report first, on this thread; then each channel, which never blocks here."""
        if not parts.notifiers:
            self.stats.count("alerts_sent")
            _use_store(self.errors, parts.store, lambda store: store.record(_record(alert)))
            return
        delivery = self._delivery(parts, alert, claim)
        for notifier in parts.local:
            delivered = False
            try:
                notifier.send(alert)
                delivered = True
            except Exception as exc:
                self.errors.report(f"sending an alert to {notifier.name}", exc)
                self.stats.notifier_failed(notifier.name)
            delivery.settle(notifier.name, delivered)
        for channel in parts.channels:
            channel.submit(alert, delivery)

    def _delivery(self, parts: _Parts, alert: Alert, claim: Claim) -> Delivery:
        """How one alert's outcome is counted. Its callbacks run on channel threads long after
        this call and hold no reference to the monitor, which may be freed meanwhile."""
        stats, errors, store = self.stats, self.errors, parts.store
        event = alert.event

        def sent(name: str) -> None:
            stats.count("alerts_sent")
            _use_store(errors, store, lambda s: s.record(_record(alert)))
            logger.info("web_performance_monitor: %s took %.3fs; alerted (%s%s)", event.endpoint,
                        event.duration, name,
                        f", report {alert.report_path}" if alert.report_path else "")

        def failed() -> None:  # every notifier gave up: a later slow request may alert again
            stats.count("alerts_failed")
            _give_back(errors, store, claim)

        return Delivery(len(parts.local) + len(parts.channels), sent, failed)

    def _warn_once(self, kind: str, message: str) -> None:
        """A condition that is counted in get_stats(), logged the first time it happens."""
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning("web_performance_monitor: %s", message)

    def _close_channels(self, channels: list[Channel], timeout: float, final: bool) -> None:
        """Let the channels send within one shared deadline (in parallel: each has its own
        thread), then drop and count what is left."""
        deadline = time.monotonic() + timeout
        for channel in channels:
            channel.flush(max(0.0, deadline - time.monotonic()))
        for channel in channels:
            channel.close(0.0, final)

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

        def wrap(fn: F) -> F:
            self.identify(service_of(fn), "function", weak=True)
            return monitored(this, fn, threshold_seconds, name)

        return wrap(func) if func is not None else wrap

    def get_stats(self) -> dict[str, Any]:
        """Counters since start or the last ``reset_stats()``; safe to call from any thread."""
        stats = self.stats.snapshot()
        stats["enabled"] = self.enabled
        stats["threshold_seconds"] = self.config.threshold_seconds
        stats["alerts_dropped"] = self._worker.dropped
        stats["internal_errors"] = dict(self.errors.counts)
        stats["notifiers"] = {channel.name: channel.state() for channel in self._parts.channels}
        stats["overhead_stats"].update(
            backoff_level=self._backoff.level, profiled_fraction=1 / self._profiler.every,
            profiler=self._profiler.name, profiler_interval=self._profiler.interval,
            sampler_busy_seconds=float(getattr(self._profiler, "busy_seconds", 0.0)))
        return stats

    def reset_stats(self) -> None:
        self.stats.reset()
        self.errors.reset()
        self._worker.dropped = 0
        for channel in self._parts.channels:
            channel.reset_counts()

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
            errors.append("no notifier is enabled (enable_local_file, enable_mattermost or a "
                          "webhook URL)")
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
        deadline = time.monotonic() + timeout
        done = self._worker.flush(timeout)
        for channel in self._parts.channels:
            done = channel.flush(max(0.0, deadline - time.monotonic())) and done
        return done

    def close(self, timeout: float = 10.0, *, final: bool = False) -> None:
        """Send pending alerts within ``timeout``, then release the threads, store and notifiers.

        Local reports are written first; the channels get what is left of ``timeout`` and
        drop (and count, in ``get_stats()["notifiers"]``) what they could not send by then.
        The monitor keeps working afterwards (the threads restart) unless ``final``, which
        the exit handler uses: after it, slow requests are still counted but no longer alerted.
        """
        deadline = time.monotonic() + timeout
        self._worker.close(timeout, final=final)
        self._close_channels(self._parts.channels, max(0.0, deadline - time.monotonic()), final)
        if final:
            self._profiler.close()
            self._hook_calls(None)
        with self.errors.guard("closing"):
            self._parts.store.close()
            for notifier in self._parts.notifiers:
                notifier.close()

    def __repr__(self) -> str:
        return f"<PerformanceMonitor enabled={self.enabled} {self.config!r}>"


def _use_store(errors: ErrorLog, store: AlertStore, action: Callable[[AlertStore], Any]) -> Any:
    """Use the store. It is a ``FailoverStore``, which answers from its in-process stand-in
    while the configured store fails; this guards only against both failing (then None: the
    request counts as not alerted rather than raising on the worker)."""
    try:
        return action(store)
    except Exception as exc:
        errors.report("using the alert store", exc)
        return None


def _record(alert: Alert) -> AlertRecord:
    """What the store keeps of an alert that went out (the report by its file name only)."""
    event = alert.event
    return AlertRecord(
        service=event.service, endpoint=event.endpoint, at=event.started_at,
        duration=event.duration, status=event.status,
        report=os.path.basename(alert.report_path) if alert.report_path else None,
        trace_id=alert.trace.get("trace_id"), host=_HOST, pid=event.pid)


def _give_back(errors: ErrorLog, store: AlertStore, claim: Claim) -> None:
    """Release a window this process took, counting the request that took it as not alerted."""
    if claim.token:  # alert_window_days=0 takes no window
        _use_store(errors, store, lambda s: s.release(claim))


def _sampler_busy(backoff: OverheadBackoff, limit: float, profiler: SamplingProfiler,
                  share: float) -> None:
    """The sampler thread's report of its own busy share: back off (and say so) when over.

    A plain function with the backoff bound in, not a method: the profiler must not hold its
    monitor (a dropped monitor is freed with its profiler).
    """
    change = backoff.step_up(share, limit, profiler)
    if change is not None:
        logger.warning("web_performance_monitor: %s", change)


_live_monitors: weakref.WeakSet[PerformanceMonitor] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At interpreter exit: flush every live monitor's pending alerts, through its error log.

    One deadline for all of them (``EXIT_SECONDS``): twenty monitors with a hanging chat server
    must not hold the exit for twenty times as long. Each still gets a moment for its local
    reports.
    """
    deadline = time.monotonic() + EXIT_SECONDS
    for monitor in list(_live_monitors):
        with monitor.errors.guard("closing at exit"):
            monitor.close(timeout=max(0.2, deadline - time.monotonic()), final=True)
