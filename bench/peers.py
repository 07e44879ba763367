"""``make bench-peers``: the same small Flask app with this monitor and with the tools people
run for the same purpose, side by side in one run.

Variants (``VARIANTS``): plain; a no-op WSGI middleware; this monitor (``WPM(app)``);
prometheus-flask-exporter; pyinstrument's ``Profiler`` per request; OpenTelemetry's Flask
instrumentation (SDK ``TracerProvider``, ``BatchSpanProcessor``, a counting exporter); Elastic
APM's Flask contrib (its transport's ``send`` dropped); ddtrace (``import ddtrace.auto``, traces
counted and dropped by a trace filter before its writer); Sentry (``traces_sample_rate=1.0`` and
profiling in its "trace" lifecycle, as its docs suggest for production; a counting transport).

Process-wide patchers (OpenTelemetry, Elastic, ddtrace, Sentry) each live in a worker process of
their own: Sentry patches ``Flask.__call__`` and connects to Flask's signals for every app, and
ddtrace wraps ``Flask``'s methods on the class, so no Flask app in their process is plain. The
plain control and the per-app variants share one worker ("inprocess"); a second plain worker
("plain-2") shows what running in another process alone does (ideally x1.00). The parent drives
every worker in shuffled alternating blocks (``bench.inprocess.compare``: each worker times only
its own request loop), so a drift of the shared machine falls on all alike: median paired ratio
to plain, bootstrap 95% interval, added µs (median paired difference).

Each request goes through ``app(environ, start_response)``, as a WSGI server calls it, so
``Flask.__call__`` patches count. Afterwards every worker reports what its peer recorded through
its sink (transactions, spans, metrics, profiles) against the requests it served: a peer that
recorded nothing is misconfigured, and the run fails rather than show it as cheap. Nothing leaves
127.0.0.1: agents are pointed at 127.0.0.1 and, in every worker, Python-level connections,
datagrams and name look-ups to any other host are refused and reported.

    python bench/peers.py [--quick]        # needs `pip install -e '.[bench]'` (make bench-peers)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.drivers import Block, wsgi_block
from bench.inprocess import PER_BLOCK, compare

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINTS = ("trivial", "typical")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEAD_END = "127.0.0.1:9"  # where agents are pointed: loopback, nothing listens, nothing is sent

Installed = tuple[Any, Callable[[], int] | None]  # the app, and how many items its peer recorded


# --- the variants, each built inside its worker ------------------------------------------

def _plain() -> Installed:
    from bench.variants import flask_app

    return flask_app("plain"), None


def _noop() -> Installed:
    from bench.variants import flask_app

    return flask_app("noop"), None


def _wpm() -> Installed:
    from bench.variants import flask_app
    from flask_wpm import WPM

    app = flask_app("wpm")
    return app, lambda: int(WPM.get_monitor(app).get_stats()["total_requests"])


def _pyinstrument() -> Installed:
    from bench.variants import flask_app

    app = flask_app("naive-pyinstrument")
    naive = app.wsgi_app
    return app, lambda: int(naive.profiled)


def _prometheus() -> Installed:
    from prometheus_client import REGISTRY
    from prometheus_flask_exporter import PrometheusMetrics

    from bench.variants import flask_app

    app = flask_app("plain")
    PrometheusMetrics(app)  # the default registry and metrics, as its README sets it up

    def recorded() -> int:
        return int(sum(sample.value for family in REGISTRY.collect() for sample in family.samples
                       if sample.name == "flask_http_request_total"))

    return app, recorded


def _otel() -> Installed:
    from opentelemetry import trace
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from bench.variants import flask_app

    class CountingExporter(SpanExporter):  # type: ignore[misc]
        spans = 0

        def export(self, spans: Any) -> SpanExportResult:
            CountingExporter.spans += len(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(CountingExporter()))
    trace.set_tracer_provider(provider)
    app = flask_app("plain")
    FlaskInstrumentor().instrument_app(app)

    def recorded() -> int:
        provider.force_flush()
        return CountingExporter.spans

    return app, recorded


def _elastic() -> Installed:
    from elasticapm.contrib.flask import ElasticAPM

    from bench import elastic_sink
    from bench.variants import flask_app

    app = flask_app("plain")
    app.config["ELASTIC_APM"] = {
        "SERVICE_NAME": "bench", "SERVER_URL": f"http://{DEAD_END}",
        "TRANSPORT_CLASS": "bench.elastic_sink.NullTransport",
        "CENTRAL_CONFIG": False,  # no polling of the APM server
        "CLOUD_PROVIDER": "none",  # no look-up of cloud metadata endpoints
    }
    ElasticAPM(app)
    return app, lambda: elastic_sink.NullTransport.queued["transaction"]


def _ddtrace() -> Installed:
    os.environ.update({
        "DD_TRACE_AGENT_URL": f"http://{DEAD_END}", "DD_DOGSTATSD_URL": f"udp://{DEAD_END}",
        "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
        "DD_REMOTE_CONFIGURATION_ENABLED": "false", "DD_CRASHTRACKING_ENABLED": "false",
        "DD_TRACE_STARTUP_LOGS": "false", "DD_SERVICE": "bench"})
    import ddtrace.auto  # noqa: F401  (its documented entry point: patches what it supports)
    from ddtrace.trace import TraceFilter, tracer

    from bench.variants import flask_app

    class CountAndDrop(TraceFilter):  # type: ignore[misc]
        """Traces reach the processors as in production, then go no further (no writer)."""

        spans = 0

        def process_trace(self, trace: list[Any]) -> None:
            CountAndDrop.spans += len(trace)
            return None

    tracer.configure(trace_processors=[CountAndDrop()])
    return flask_app("plain"), lambda: CountAndDrop.spans


def _sentry() -> Installed:
    import sentry_sdk
    from sentry_sdk.transport import Transport

    from bench.variants import flask_app

    class CountingTransport(Transport):  # type: ignore[misc]
        """Envelopes are counted by item type and dropped (the HTTP transport's place)."""

        items: dict[str, int] = {}

        def capture_envelope(self, envelope: Any) -> None:
            for item in envelope.items:
                CountingTransport.items[item.type] = CountingTransport.items.get(item.type, 0) + 1

    sentry_sdk.init(dsn=f"http://public@{DEAD_END}/1", traces_sample_rate=1.0,
                    profile_session_sample_rate=1.0, profile_lifecycle="trace",
                    transport=CountingTransport())
    return flask_app("plain"), lambda: CountingTransport.items.get("transaction", 0)


@dataclass(frozen=True)
class Variant:
    label: str
    worker: str  # variants with the same worker share one process
    build: Callable[[], Installed]
    counts: str = ""  # what ``build``'s second value counts


VARIANTS = {
    "plain": Variant("plain Flask app (the control)", "inprocess", _plain),
    "plain-2": Variant("plain, in a process of its own", "plain-2", _plain),
    "noop": Variant("no-op WSGI middleware", "inprocess", _noop),
    "wpm": Variant("this monitor, WPM(app)", "inprocess", _wpm, "requests counted"),
    "prometheus": Variant("prometheus-flask-exporter", "inprocess", _prometheus,
                          "requests counted"),
    "otel": Variant("OpenTelemetry Flask, BatchSpanProcessor", "otel", _otel, "spans exported"),
    "elastic": Variant("Elastic APM, Flask contrib", "elastic", _elastic, "transactions"),
    "pyinstrument": Variant("pyinstrument Profiler per request", "inprocess", _pyinstrument,
                            "profiles"),
    "ddtrace": Variant("ddtrace (ddtrace.auto)", "ddtrace", _ddtrace, "spans"),
    "sentry": Variant("Sentry, traces 1.0 + profiling", "sentry", _sentry, "transactions"),
}
# The module each peer needs: the bench reports a missing one instead of failing half-way.
PEER_MODULES = {"prometheus": "prometheus_flask_exporter",
                "otel": "opentelemetry.instrumentation.flask", "elastic": "elasticapm",
                "ddtrace": "ddtrace", "sentry": "sentry_sdk"}


# --- a worker: builds its variants, then answers the parent's requests on stdin -------------

def _local_only() -> list[str]:
    """Refuse connections, datagrams and look-ups of any host but loopback, in this process;
    the list fills with what was refused (shown by the parent)."""
    refused: list[str] = []

    def check(host: Any) -> None:
        if isinstance(host, str) and host not in LOOPBACK and not host.startswith("/"):
            refused.append(host)
            raise OSError(f"bench-peers: {host} is not on 127.0.0.1")

    def guard(method: Callable[..., Any], host_of: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            check(host_of(*args, **kwargs))
            return method(*args, **kwargs)

        return guarded

    def address_host(address: Any) -> Any:
        return address[0] if isinstance(address, tuple) else address

    for name in ("connect", "connect_ex"):
        setattr(socket.socket, name, guard(getattr(socket.socket, name),
                                           lambda _sock, address: address_host(address)))
    socket.socket.sendto = guard(  # type: ignore[method-assign]
        socket.socket.sendto, lambda _sock, _data, *rest: address_host(rest[-1]))
    socket.getaddrinfo = guard(socket.getaddrinfo,
                               lambda host=None, *_rest, **named: named.get("host", host))
    return refused


def serve(worker: str) -> None:
    """Worker process: build this worker's variants, print ``ready``, then answer lines
    ``run VARIANT ENDPOINT N`` (seconds per request) and ``recorded VARIANT``
    (``[recorded or null, served, refused hosts]``) until stdin closes."""
    out: IO[str] = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a peer prints goes to the log, never into the protocol
    refused = _local_only()
    apps: dict[str, tuple[dict[str, Block], Callable[[], int] | None]] = {}
    for name, variant in VARIANTS.items():
        if variant.worker == worker:
            app, recorded = variant.build()
            apps[name] = ({e: wsgi_block(app, f"/{e}") for e in ENDPOINTS}, recorded)
    served = dict.fromkeys(apps, 0)
    out.write("ready\n")
    for line in sys.stdin:
        command, name, *rest = line.split()
        blocks, recorded = apps[name]
        if command == "run":
            endpoint, count = rest[0], int(rest[1])
            out.write(f"{blocks[endpoint](count)!r}\n")
            served[name] += count
        else:
            out.write(json.dumps([None if recorded is None else recorded(), served[name],
                                  sorted(set(refused))]) + "\n")


# --- the parent ---------------------------------------------------------------------------

class Worker:
    """One worker process, spoken to line by line; its stderr goes to ``log``."""

    def __init__(self, name: str, log: IO[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"from bench.peers import serve; serve({name!r})"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)

    def ask(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.answer()

    def answer(self) -> str:
        assert self.proc.stdout is not None
        reply = self.proc.stdout.readline()
        if not reply:
            raise RuntimeError(f"worker {self.name} ended (exit {self.proc.wait()}); see its log")
        return reply.strip()

    def block(self, variant: str, endpoint: str) -> Block:
        return lambda n: float(self.ask(f"run {variant} {endpoint} {n}"))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def missing_peers() -> dict[str, str]:
    """``{variant: module}`` for every peer whose package is not installed."""
    import importlib.util

    return {name: module for name, module in PEER_MODULES.items()
            if importlib.util.find_spec(module.split(".")[0]) is None
            or importlib.util.find_spec(module) is None}


def run(rounds: int, scale: float = 1.0, variants: tuple[str, ...] = tuple(VARIANTS),
        log_path: str | None = None) -> dict[str, Any]:
    """Measure ``variants`` (always with "plain"); ``{"endpoints": {endpoint: compare() row},
    "recorded": {variant: {"recorded", "served", "refused"}}, "inactive": [variants]}``.

    Raises ``RuntimeError`` naming the peers that are not installed.
    """
    names = ("plain", *(v for v in variants if v != "plain"))
    missing = {n: m for n, m in missing_peers().items() if n in names}
    if missing:
        raise RuntimeError("not installed: " + ", ".join(sorted(set(missing.values())))
                           + " (make bench-peers installs the [bench] extra)")
    log_path = log_path or os.path.join(tempfile.gettempdir(), "wpm-bench-peers.log")
    with open(log_path, "w") as log:
        workers = {w: Worker(w, log) for w in dict.fromkeys(VARIANTS[n].worker for n in names)}
        try:
            for worker in workers.values():  # they start in parallel; wait for each
                if worker.answer() != "ready":
                    raise RuntimeError(f"worker {worker.name} did not start; see {log_path}")
            results: dict[str, Any] = {"endpoints": {}, "recorded": {}, "inactive": []}
            for endpoint in ENDPOINTS:
                blocks = {n: workers[VARIANTS[n].worker].block(n, endpoint) for n in names}
                count = max(3, int(PER_BLOCK[endpoint] * scale))
                results["endpoints"][endpoint] = compare(blocks, count, rounds)
            for name in names:
                recorded, served, refused = json.loads(
                    workers[VARIANTS[name].worker].ask(f"recorded {name}"))
                results["recorded"][name] = {"recorded": recorded, "served": served,
                                             "refused": refused}
                if recorded == 0:
                    results["inactive"].append(name)
            return results
        finally:
            for worker in workers.values():
                worker.close()


def print_table(results: dict[str, Any]) -> None:
    rows = results["endpoints"]
    print(f"  {'variant':<42} {'trivial ratio [95% CI]':<24} {'typical ratio [95% CI]':<24} "
          f"{'added µs (trivial / typical)':<28} recorded / requests")
    plain = " / ".join(f"{rows[e]['plain_us']:.0f}" for e in ENDPOINTS)
    print(f"  {VARIANTS['plain'].label:<42} {'x1':<24} {'x1':<24} "
          f"{'(plain: ' + plain + ' µs)':<28}")
    for name, figures in results["recorded"].items():
        if name == "plain":
            continue
        cells = [rows[e][name] for e in ENDPOINTS]
        ratios = [f"x{c['ratio']:.2f} [{c['ci95'][0]:.2f}-{c['ci95'][1]:.2f}]" for c in cells]
        added = " / ".join(f"{c['added_us']:+.1f}" for c in cells)
        seen = ("—" if figures["recorded"] is None
                else f"{figures['recorded']} {VARIANTS[name].counts} / {figures['served']}")
        if name in results["inactive"]:
            seen += "  INACTIVE: recorded nothing"
        if figures["refused"]:
            seen += f"  refused: {', '.join(figures['refused'])}"
        print(f"  {VARIANTS[name].label:<42} {ratios[0]:<24} {ratios[1]:<24} {added:<28} {seen}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "peers.json"))
    args = parser.parse_args()
    rounds = 3 if args.quick else 21
    print(f"Flask, this monitor and its peers: {rounds} shuffled rounds, median paired ratio to "
          "plain [bootstrap 95% CI]; added µs: median paired difference")
    started = time.time()
    results = run(rounds, scale=0.2 if args.quick else 1.0)
    print_table(results)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump({"started": started, "rounds": rounds, **results}, handle, indent=2)
    print(f"written: {args.out}")
    if results["inactive"]:
        sys.exit(f"inactive (recorded nothing, so their figures mean nothing): "
                 f"{', '.join(results['inactive'])}")


if __name__ == "__main__":
    main()
