"""The ``wpm`` command: what alerted, what the alert windows hold back, and retention on demand.

    wpm list [--endpoint E] [--service S] [--since 2h|7d|2026-11-01] [--endpoints] [--json]
    wpm show ENDPOINT [--service S] [--since ...] [--json]
    wpm open [REPORT]                  the index page (or one report) in the browser
    wpm prune [--json]                 apply the retention now: alert records and report files
    wpm window [--service S] [--json]  the open alert windows, until when, what they held back
    wpm window reset [ENDPOINT] [--service S]
    wpm test-alert                     a test message through every enabled notifier
    wpm config [--json]                the effective configuration, secrets masked

Also ``python -m web_performance_monitor ...``, and with an application's own configuration
``flask wpm ...``, ``manage.py wpm_list ...`` and ``python -m sanic_wpm path.to:app ...``: the
adapters pass their configuration to ``main`` (or, for Django's one-command-per-module layout,
to ``add_arguments``/``run``). Standalone, the configuration is ``--config FILE`` (TOML or JSON,
as ``Config.from_file``) with ``WPM_*`` variables over it, or the variables alone.

Output people read is an aligned table (the model: ``flask routes``); ``--json`` prints the
records' fields for scripts (the model: ``pip list --format json``). Everything shown from the
store is masked (registered secrets, the masking policy) and its control characters escaped:
endpoint names come from requests. Nothing read from the store is executed or used as a path,
except a report's file name, and only once it is checked to be a plain name of a report file
inside the report folder. Exit codes: 0 done, 1 failed (``Failure``), 2 usage (argparse).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
import webbrowser
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from .config import Config, ConfigError, environment_layer
from .files import resolve_paths
from .history import AlertRecord
from .masking import Masker, register_secret, scrub
from .monitor import PerformanceMonitor
from .notifiers.local_file import prune_reports
from .report import REPORT_PREFIX, REPORT_SUFFIX
from .store import AlertStore, MemoryStore, SQLiteStore, configured_store

__all__ = ["COMMANDS", "EXIT_FAILED", "Context", "Failure", "add_arguments", "app_config_key",
           "main", "run"]

INDEX_NAME = "index.html"  # the index page in local_output_dir
EXIT_FAILED = 1  # argparse exits with 2 for usage errors
DEFAULT_LIMIT = 50  # alerts listed unless --limit says otherwise

COMMANDS = {  # name -> one-line help, in the order ``wpm --help`` shows them
    "list": "recent alerts, newest first",
    "show": "one endpoint's history",
    "open": "open the index page (or a report) in the browser",
    "prune": "apply the retention now (alert records and report files)",
    "window": "the open alert windows and what they held back; 'window reset' ends them",
    "test-alert": "send a test message through every enabled notifier",
    "config": "the effective configuration, secrets masked",
}


class Failure(Exception):
    """A command could not do what was asked (exit code 1); the message says why."""


@dataclass
class Context:
    """What a command runs with.

    ``config``: the effective configuration (its paths are resolved by ``run``). ``monitor``:
    the application's own monitor, when an adapter has one (``test-alert`` uses it, with the
    notifiers added in code); otherwise one is made for the test. ``key`` shows a field name
    the way the user writes it in their source (``wpm config``): ``threshold_seconds`` in a
    file, ``WPM_THRESHOLD_SECONDS`` in Flask's and Sanic's ``app.config``,
    ``THRESHOLD_SECONDS`` in Django's ``settings.WPM``. Notes go to
    ``err``, so that ``out`` holds only the answer (``--json`` stays parseable).
    """

    config: Config
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    monitor: PerformanceMonitor | None = None
    key: Callable[[str], str] = str
    masker: Masker = field(init=False)

    def __post_init__(self) -> None:
        self.config = resolve_paths(self.config)
        for secret in self.config.secret_values():
            register_secret(secret)
        self.masker = Masker(self.config.sensitive_keys)

    def echo(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def shown(self, text: str | None) -> str:
        """``text`` from the store as it may be shown: masked, control characters escaped."""
        return _escaped(self.masker.text(scrub(text))) if text else ""


# --- arguments ---------------------------------------------------------------------------


_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def since(text: str) -> float:
    """``--since``: a span back from now (``90m``, ``2h``, ``7d``, ``1w``) or an ISO date or
    time (``2026-11-01``, ``2026-11-01T08:00``; UTC unless it names a zone); epoch seconds."""
    span = _SPAN.fullmatch(text.strip().lower())
    if span:
        return datetime.now(timezone.utc).timestamp() - float(span[1]) * _UNIT[span[2]]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a span such as 2h, 7d, 1w or an ISO date such as 2026-11-01"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return number


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of ``command`` (a key of ``COMMANDS``), on ``parser``."""
    if command in ("list", "show"):
        if command == "show":
            parser.add_argument("endpoint", help='the endpoint as listed, e.g. "GET /users/{id}"')
        else:
            parser.add_argument("--endpoint", help="only this endpoint")
            parser.add_argument("--endpoints", action="store_true",
                                help="one row per endpoint (alerts, held back, worst, latest)")
        parser.add_argument("--since", type=since, metavar="WHEN",
                            help="only alerts since then: 2h, 7d, 1w, or an ISO date (UTC)")
        parser.add_argument("--limit", type=_positive, default=DEFAULT_LIMIT,
                            help=f"at most this many alerts (default {DEFAULT_LIMIT})")
    if command == "window":
        parser.add_argument("action", nargs="?", choices=["reset"],
                            help="reset: end the open windows (of ENDPOINT only, if given)")
        parser.add_argument("endpoint", nargs="?", help="the endpoint whose window to reset")
    if command == "open":
        parser.add_argument("report", nargs="?",
                            help="a report's file name as listed (default: the index page)")
    if command in ("list", "show", "window"):
        parser.add_argument("--service", help="only this service (default: all)")
    if command in ("list", "show", "window", "prune", "config"):
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def app_config_key(name: str) -> str:
    """A field as Flask's and Sanic's ``app.config`` hold it: ``WPM_THRESHOLD_SECONDS``."""
    return "WPM_" + name.upper()


def build_parser(prog: str = "wpm", *, standalone: bool = True) -> argparse.ArgumentParser:
    """The whole command line; ``standalone`` adds ``--config`` (adapters pass their own)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="web-performance-monitor: alerts, history and alert windows.")
    if standalone:
        parser.add_argument("--config", metavar="FILE", type=Path,
                            help="a TOML or JSON configuration file; WPM_* variables apply "
                                 "over it (default: the WPM_* variables alone)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        add_arguments(name, commands.add_parser(name, help=summary, description=summary))
    return parser


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """The standalone configuration: ``path``'s values with the ``WPM_*`` variables over them
    (as pip puts the environment over its configuration files), or the variables alone."""
    if path is None:
        return Config.from_env(environ)
    from_file = Config.from_file(path)
    return Config.from_layers((from_file.as_dict(masked=False), lambda name: f"{path}: {name}",
                               False), environment_layer(environ, strict=True))


def main(argv: Sequence[str] | None = None, *, config: Config | None = None,
         monitor: PerformanceMonitor | None = None, key: Callable[[str], str] = str,
         prog: str = "wpm", out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command line; the exit code. ``config`` given (an adapter's): no ``--config``;
    ``monitor`` and ``key`` as in ``Context``.

    Usage errors exit through argparse (``SystemExit(2)``), as every argparse program does.
    """
    parser = build_parser(prog, standalone=config is None)
    args = parser.parse_args(argv)
    err = err or sys.stderr
    try:
        if config is None:
            config = load_config(args.config)
        context = Context(config, out or sys.stdout, err, monitor, key)
        return run(args.command, vars(args), context)
    except (Failure, ConfigError) as exc:
        err.write(f"{prog}: error: {exc}\n")
        return EXIT_FAILED


def run(command: str, options: Mapping[str, Any], context: Context) -> int:
    """Run ``command`` with parsed ``options`` (argparse dests); 0, or raises ``Failure``."""
    handler = _HANDLERS[command]
    return handler(options, context)


# --- the commands ------------------------------------------------------------------------


def _open_store(context: Context) -> AlertStore:
    """The configured store; an empty one when the default SQLite file does not exist yet
    (reading must not create it), said on the way."""
    config = context.config
    store = configured_store(config)
    if isinstance(store, SQLiteStore) and not os.path.exists(store.path):
        context.err.write(f"(no alert store at {store.path} yet: nothing has alerted)\n")
        return MemoryStore()
    return store


def _read(context: Context, action: Callable[[AlertStore], Any]) -> Any:
    """``action`` on the store; its failure is a ``Failure`` naming the store (masked)."""
    store: AlertStore | None = None
    try:
        store = _open_store(context)
        return action(store)
    except Exception as exc:
        where = context.shown(context.config.alert_store_url or "the SQLite store")
        raise Failure(f"cannot use the alert store {where}: {type(exc).__name__}: "
                      f"{context.shown(str(exc))[:300]}") from None
    finally:
        if store is not None:
            store.close()


def _list(options: Mapping[str, Any], context: Context) -> int:
    if options.get("endpoints"):
        return _summaries(options, context)
    records: list[AlertRecord] = _read(context, lambda store: store.history(
        options.get("service"), options.get("endpoint"), options.get("since"),
        options.get("limit") or DEFAULT_LIMIT))
    if options.get("json"):
        _json(context, [_masked(context, r.as_dict()) for r in records])
    elif records:
        _alerts_table(context, records)
    else:
        context.echo("No alerts recorded" + (" matching the filters." if any(
            options.get(k) for k in ("service", "endpoint", "since")) else " yet."))
    return 0


def _summaries(options: Mapping[str, Any], context: Context, endpoint: str | None = None) -> int:
    summaries = [s for s in _read(context, lambda store: store.endpoints(options.get("service")))
                 if endpoint is None or s.endpoint == endpoint]
    if options.get("json"):
        _json(context, [_masked(context, s.as_dict()) for s in summaries])
    elif summaries:
        _table(context, ["Service", "Endpoint", "Alerts", "Held back", "Last", "Worst",
                         "Last seen (UTC)", "Window until (UTC)", "Latest report"],
               [[context.shown(s.service), context.shown(s.endpoint), str(s.alerts),
                 str(s.held_back), _seconds(s.last_duration), _seconds(s.worst_duration),
                 _time(s.last_seen), _time(s.window_until), context.shown(s.latest_report)]
                for s in summaries])
    else:
        context.echo("No endpoint has alerted yet.")
    return 0


def _show(options: Mapping[str, Any], context: Context) -> int:
    endpoint, service = options["endpoint"], options.get("service")
    summaries = [s for s in _read(context, lambda store: store.endpoints(service))
                 if s.endpoint == endpoint]
    if not summaries:
        raise Failure(f"no history for {context.shown(endpoint)!r}"
                      + (f" of {context.shown(service)!r}" if service else "")
                      + " ('list --endpoints' shows the endpoints that have one)")
    records: list[AlertRecord] = _read(context, lambda store: store.history(
        service, endpoint, options.get("since"), options.get("limit") or DEFAULT_LIMIT))
    if options.get("json"):
        _json(context, {"endpoints": [_masked(context, s.as_dict()) for s in summaries],
                        "alerts": [_masked(context, r.as_dict()) for r in records]})
        return 0
    _summaries(options, context, endpoint)
    context.echo()
    if records:
        _alerts_table(context, records)
    else:
        context.echo("No alert kept in that time (only held-back requests).")
    return 0


def _window(options: Mapping[str, Any], context: Context) -> int:
    service, endpoint = options.get("service"), options.get("endpoint")
    if options.get("action") == "reset":
        count: int = _read(context, lambda store: store.reset_window(service, endpoint))
        if endpoint is not None and count == 0:
            raise Failure(f"no open alert window for {context.shown(endpoint)!r}"
                          " (the 'window' command lists them)")
        if options.get("json"):
            _json(context, {"reset": count})
        else:
            context.echo(f"Reset {count} alert window{'s' * (count != 1)}: the next slow "
                         "request of each endpoint alerts again.")
        return 0
    if endpoint is not None:
        raise Failure("an endpoint goes with 'reset': wpm window reset ENDPOINT")
    windows = _read(context, lambda store: store.windows(service))
    if options.get("json"):
        _json(context, [_masked(context, w.as_dict()) for w in windows])
    elif windows:
        _table(context, ["Service", "Endpoint", "Until (UTC)", "Held back"],
               [[context.shown(w.service), context.shown(w.endpoint), _time(w.until),
                 str(w.held_back)] for w in windows])
    else:
        context.echo("No alert window is open: the next slow request of any endpoint alerts.")
    return 0


def _prune(options: Mapping[str, Any], context: Context) -> int:
    config = context.config
    records: int = _read(context, lambda store: store.prune())
    files = 0
    if os.path.isdir(config.local_output_dir):
        try:
            files = prune_reports(config.local_output_dir, config.report_retention_count,
                                  config.report_retention_days)
        except OSError as exc:
            raise Failure(f"cannot prune the reports in {config.local_output_dir}: {exc}") from None
    if options.get("json"):
        _json(context, {"alert_records": records, "report_files": files})
    else:
        context.echo(f"Removed {records} alert record{'s' * (records != 1)} and {files} report "
                     f"file{'s' * (files != 1)} (keeping the newest "
                     f"{config.report_retention_count or 'all'}, none older than "
                     f"{config.report_retention_days:g} days; 0 = no limit).")
    return 0


def _open(options: Mapping[str, Any], context: Context) -> int:
    folder = Path(context.config.local_output_dir)
    name = options.get("report")
    path = folder / INDEX_NAME if name is None else report_path(folder, name)
    if not path.is_file():
        raise Failure(f"no index page at {path} yet: it is written after the first alert"
                      if name is None else f"no report {context.shown(name)!r} in {folder}")
    uri = path.resolve().as_uri()
    context.echo(f"Opening {uri}")
    if not webbrowser.open(uri):
        raise Failure(f"no browser could be started; open {path} yourself")
    return 0


def report_path(folder: Path, name: str) -> Path:
    """The report ``name`` inside ``folder``: a plain file name of this library's reports
    (``wpm_*.html``, no folder part, not hidden), never anything else; ``Failure`` otherwise."""
    if (os.path.basename(name) != name or name.startswith(".") or "\x00" in name
            or not (name.startswith(REPORT_PREFIX) and name.endswith(REPORT_SUFFIX))):
        raise Failure(f"{_escaped(name)!r} is not a report's file name (the 'list' command "
                      "shows them)")
    path = folder / name
    if path.is_symlink():
        raise Failure(f"{path} is a symbolic link: refused")
    return path


def _test_alert(options: Mapping[str, Any], context: Context) -> int:
    monitor = context.monitor or PerformanceMonitor(context.config)
    try:
        result = monitor.test_alert_system()
    finally:
        if context.monitor is None:
            monitor.close(timeout=5)
    for name, ok in result["notifier_results"].items():
        context.echo(f"{name}: {'ok' if ok else 'FAILED'}")
    if not result["success"]:
        raise Failure(f"test alert failed: {result['error']}")
    context.echo("all notifiers work")
    return 0


def _config(options: Mapping[str, Any], context: Context) -> int:
    values = {context.key(name): value
              for name, value in context.config.as_dict(masked=True).items()}
    if options.get("json"):
        _json(context, values)
    else:
        _table(context, ["Option", "Value"],
               [[name, value if isinstance(value, str) else json.dumps(value)]
                for name, value in sorted(values.items())])
    return 0


_HANDLERS: dict[str, Callable[[Mapping[str, Any], Context], int]] = {
    "list": _list, "show": _show, "open": _open, "prune": _prune, "window": _window,
    "test-alert": _test_alert, "config": _config,
}


# --- output ------------------------------------------------------------------------------


def _escaped(text: str) -> str:
    """Control, format and separator characters shown as escapes: a name from a request
    cannot move the cursor, recolour the terminal or reorder the line (bidi overrides)."""
    return "".join(
        c if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") else
        f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in text)


def _masked(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A record's fields for ``--json``: its texts masked (json.dumps escapes the rest)."""
    return {key: context.masker.text(scrub(value)) if isinstance(value, str) else value
            for key, value in data.items()}


def _json(context: Context, data: Any) -> None:
    context.echo(json.dumps(data, indent=2))


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float) -> str:
    return f"{value:.3f}s"


def _alerts_table(context: Context, records: Iterable[AlertRecord]) -> None:
    _table(context, ["Time (UTC)", "Service", "Endpoint", "Duration", "Status", "Report",
                     "Trace id"],
           [[_time(r.at), context.shown(r.service), context.shown(r.endpoint),
             _seconds(r.duration), "-" if r.status is None else str(r.status),
             context.shown(r.report) or "-", context.shown(r.trace_id) or "-"]
            for r in records])


def _table(context: Context, headers: list[str], rows: list[list[str]]) -> None:
    """Columns as wide as their widest cell, two spaces apart, a dashed rule under the
    headers (``flask routes``)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in [headers, ["-" * width for width in widths], *rows]:
        context.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                        strict=True)).rstrip())
