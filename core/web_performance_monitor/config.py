"""Configuration: one typed schema, validated once, loadable from code, env, files and mappings.

Every source ends in the same constructor, so a value is checked the same way wherever it came
from, and an error names the key the user actually wrote (``WPM_THRESHOLD_SECONDS``,
``app.config["WPM_..."]``, ``settings.WPM["..."]``) and the form that was expected.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .log import logger
from .masking import MASK

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "WPM_"

DEFAULT_TRACE_HEADERS = (
    "traceparent",
    "x-trace-id",
    "x-request-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "b3",
    "sentry-trace",
    "x-span-id",
)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_STORE_SCHEMES = ("sqlite", "redis", "rediss", "memory")
_PROFILERS = ("sampler", "pyinstrument")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or malformed; ``key`` names where it came from."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


Label = Callable[[str], str]
# One configuration source: (values by field name, how its keys are written, holds only text?).
Layer = tuple[Mapping[str, Any], Label, bool]


def _field_label(name: str) -> str:
    return name


def env_label(name: str) -> str:
    return ENV_PREFIX + name.upper()


# --- value checks -------------------------------------------------------------------------
# Each returns the normalised value or raises ValueError("expected ..."). ``text`` is True when
# the value came from a text source (env, file, settings) where "1.5" or "yes" are legitimate.


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(*, integer: bool = False, positive: bool = False, at_most: float | None = None) -> Any:
    kind = "an integer" if integer else "a number"
    bound = "> 0" if positive else ">= 0"
    expected = f"{kind} {bound}" + (f" and <= {at_most}" if at_most is not None else "")

    def check(value: Any, text: bool) -> float | int:
        if text and isinstance(value, str):
            try:
                value = int(value) if integer else float(value)
            except ValueError:
                raise ValueError(f"expected {expected}, got {_shown(value)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float) if not integer else int):
            raise ValueError(f"expected {expected}, got {_shown(value)}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected {expected}, got {value!r}")
        if value < 0 or (positive and value == 0) or (at_most is not None and value > at_most):
            raise ValueError(f"expected {expected}, got {value!r}")
        return value if integer else float(value)

    return check


def _optional_number(value: Any, text: bool) -> float | None:
    if value is None or (text and isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    result: float = _number(positive=True)(value, text)
    return result


def _boolean(value: Any, text: bool) -> bool:
    if isinstance(value, bool):
        return value
    if text and isinstance(value, (str, int)):
        word = str(value).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"expected true/false (also 1/0, yes/no, on/off), got {_shown(value)}")


def _optional_text(*, secret: bool = False) -> Any:
    def check(value: Any, text: bool) -> str | None:
        if value is None or (text and value == ""):
            return None
        if not isinstance(value, str) or not value.strip():
            shown = type(value).__name__ if secret else _shown(value)
            raise ValueError(f"expected a non-empty string or None, got {shown}")
        return str(value).strip()

    return check


def _text(value: Any, text: bool) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {_shown(value)}")
    return value


def _http_url(value: Any, text: bool) -> str | None:
    value = _optional_text()(value, text)
    if not isinstance(value, str):
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL such as https://chat.example.com, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"expected an http(s) URL with a valid port, got {value!r}") from None
    return value.rstrip("/")


def _webhook_url(value: Any, text: bool) -> str | None:
    """A webhook URL taken whole; an error never echoes it (its path or query is the key)."""
    value = _optional_text(secret=True)(value, text)
    if not isinstance(value, str):
        return None
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected the http(s) URL the platform shows for the webhook, "
                         "such as https://oapi.dingtalk.com/robot/send?access_token=..., "
                         "got a value that is not one (not repeated here: it holds the key)")
    return value


def _string_list(value: Any, text: bool) -> list[str]:
    if text and isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"expected a JSON list of strings, got {value!r} ({exc})"
                ) from None
        else:
            value = [item.strip() for item in stripped.split(",") if item.strip()]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(
            f"expected a list of strings (in text: comma-separated or a JSON list), "
            f"got {_shown(value)}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"expected a list of strings, got item {_shown(item)}")
    return items


def _regex_list(value: Any, text: bool) -> list[str]:
    patterns = _string_list(value, text)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return patterns


def _apprise_urls(value: Any, text: bool) -> list[str]:
    """Apprise URLs (``tgram://token/chat``, ``mailto://...``); an error never echoes one."""
    try:
        urls = [url.strip() for url in _string_list(value, text)]
    except ValueError:
        raise ValueError("expected a list of Apprise URLs (in text: a JSON list or "
                         f"comma-separated), got a {type(value).__name__} (not repeated "
                         "here: it may hold a key)") from None
    for number, url in enumerate(urls, 1):
        if "://" not in url:
            raise ValueError(f"expected Apprise URLs such as tgram://bottoken/ChatID, got item "
                             f"{number} without a scheme:// (not repeated here: it holds a key)")
    return urls


def _log_level(value: Any, text: bool) -> str:
    if isinstance(value, str) and value.strip().upper() in _LOG_LEVELS:
        return value.strip().upper()
    raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}, got {_shown(value)}")


def _store_url(value: Any, text: bool) -> str | None:
    value = _optional_text()(value, text)
    if not isinstance(value, str):
        return None
    scheme = value.split(":", 1)[0].lower() if ":" in value else ""
    if scheme not in _STORE_SCHEMES:
        raise ValueError(
            "expected sqlite:///path/alerts.db, redis://host:6379/0 or memory://, "
            f"got {_shown(value)}"
        )
    if scheme == "sqlite" and not value.split("://", 1)[-1].strip("/"):
        raise ValueError(f"expected sqlite:///path/alerts.db with a file path, got {value!r}")
    return value


def _choice(*options: str) -> Any:
    def check(value: Any, text: bool) -> str:
        if value in options:
            return str(value)
        raise ValueError(f"expected one of {', '.join(options)}, got {_shown(value)}")

    return check


Check = Callable[[Any, bool], Any]


def default_output_dir() -> str:
    """The default ``local_output_dir``: a folder of this user's, never the shared ``/tmp``.

    ``$XDG_STATE_HOME/web-performance-monitor``, else ``~/.local/state/web-performance-monitor``
    when the home folder is writable (service users often have a read-only one), else
    ``<temp dir>/wpm-<uid>``. The monitor creates it 0700 and checks its owner at start-up.
    """
    state = os.environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(state):
        return os.path.join(state, "web-performance-monitor")
    home = os.path.expanduser("~")
    if os.path.isabs(home) and home != "/" and os.access(home, os.W_OK):
        return os.path.join(home, ".local", "state", "web-performance-monitor")
    uid = os.geteuid() if hasattr(os, "geteuid") else os.getpid()
    return os.path.join(tempfile.gettempdir(), f"wpm-{uid}")


# How a secret option is shown and which parts of it are registered with ``masking``:
# "value" (the whole value), "url" (a webhook URL whose path or query is the credential),
# "urls" (a list of such URLs, e.g. Apprise's).
Secret = Literal["value", "url", "urls"]


def option(check: Check, default: Any = None, *, factory: Callable[[], Any] | None = None,
           secret: Secret | None = None) -> Any:
    """A ``Config`` field with its check declared next to it (elastic-apm's ``_ConfigValue``).

    ``check(value, text)`` returns the normalised value or raises ``ValueError("expected …")``.
    ``secret`` marks a credential: masked by ``as_dict``/``repr`` and registered with the
    log filter by the monitor (see ``Secret``).
    """
    metadata = {"check": check, "secret": secret}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(init=False, repr=False)
class Config:
    """Everything the monitor can be told; invalid values raise ``ConfigError`` at start-up.

    ``Config(**values)``, ``from_env``, ``from_file``, ``from_mapping`` and ``from_prefixed`` all
    end in ``_apply``: one place where every value is checked, whatever its source. Units:
    seconds, days and bytes as the names say; fractions (``max_performance_overhead``) in 0-1.
    """

    threshold_seconds: float = option(_number(), 1.0)
    alert_window_days: float = option(_number(), 10)  # one alert per endpoint per window
    max_performance_overhead: float = option(_number(at_most=1.0), 0.05)
    enable_local_file: bool = option(_boolean, True)
    # Reports and the default alert store; per user, never the shared /tmp (issue 14): see
    # ``default_output_dir``.
    local_output_dir: str = option(_text, factory=default_output_dir)
    enable_mattermost: bool = option(_boolean, False)
    mattermost_server_url: str | None = option(_http_url)
    mattermost_token: str | None = option(_optional_text(secret=True), secret="value")
    mattermost_channel_id: str | None = option(_optional_text())
    mattermost_timeout_seconds: float = option(_number(positive=True), 10.0)
    url_blacklist: list[str] = option(_regex_list, factory=list)
    enable_url_blacklist: bool = option(_boolean, True)
    url_whitelist: list[str] = option(_regex_list, factory=list)
    enable_url_whitelist: bool = option(_boolean, False)
    log_level: str = option(_log_level, "INFO")
    alert_store_url: str | None = option(_store_url)  # None: SQLite in local_output_dir
    sensitive_keys: list[str] = option(_string_list, factory=list)
    trace_headers: list[str] = option(_string_list, factory=lambda: list(DEFAULT_TRACE_HEADERS))
    max_body_bytes: int = option(_number(integer=True), 64 * 1024)
    report_retention_count: int = option(_number(integer=True), 500)
    report_retention_days: float = option(_number(), 30)
    profiler: str = option(_choice(*_PROFILERS), "sampler")
    profiler_interval: float = option(_number(positive=True, at_most=1.0), 0.005)
    profiler_trigger_seconds: float | None = option(_optional_number)
    notify_retries: int = option(_number(integer=True, at_most=10), 2)
    notify_queue_size: int = option(_number(integer=True, positive=True), 256)
    # New alerts a minute (after de-duplication), 0 = no cap: a storm of new slow endpoints
    # must not flood the channels; the endpoints it holds back alert with their next slow request.
    max_alerts_per_minute: int = option(_number(integer=True), 30)
    # Estimated bytes waiting in each queue (the alert queue, each channel's), so a stuck
    # channel cannot grow the process: 320 queued deep profiles once took 422 MB.
    notify_queue_bytes: int = option(_number(integer=True, positive=True), 32 * 1024 * 1024)
    # Estimated bytes of one slow request's profile; a larger one has adjacent samples merged.
    max_profile_bytes: int = option(_number(integer=True, positive=True), 4 * 1024 * 1024)
    # Chat robots and webhooks (``notifiers/``): each channel is on when its URL is set. The
    # URL is taken whole, as the platform shows it (Lark's domain, a private deployment).
    dingtalk_webhook_url: str | None = option(_webhook_url, secret="url")
    dingtalk_secret: str | None = option(_optional_text(secret=True), secret="value")
    dingtalk_keyword: str | None = option(_optional_text())  # the robot's "custom keyword"
    dingtalk_at_mobiles: list[str] = option(_string_list, factory=list)
    feishu_webhook_url: str | None = option(_webhook_url, secret="url")
    feishu_secret: str | None = option(_optional_text(secret=True), secret="value")
    wecom_webhook_url: str | None = option(_webhook_url, secret="url")
    slack_webhook_url: str | None = option(_webhook_url, secret="url")
    mattermost_webhook_url: str | None = option(_webhook_url, secret="url")
    mattermost_webhook_channel: str | None = option(_optional_text())
    mattermost_webhook_username: str | None = option(_optional_text())
    webhook_url: str | None = option(_webhook_url, secret="url")
    webhook_secret: str | None = option(_optional_text(secret=True), secret="value")
    webhook_timeout_seconds: float = option(_number(positive=True, at_most=120), 10.0)
    apprise_urls: list[str] = option(_apprise_urls, factory=list, secret="urls")
    # Where the team's web server serves local_output_dir: messages link to base + file name.
    report_base_url: str | None = option(_http_url)
    # Part of every endpoint's identity (store, report, alert, file name), so apps sharing a
    # folder, a SQLite file or a Redis never silence each other. None: the adapter's default
    # (Flask's import name, Django's project, Sanic's app name, the WSGI/ASGI callable's module).
    service_name: str | None = option(_optional_text())
    # What a slow request did besides Python (``capture/``): its SQL queries and outgoing
    # HTTP calls, through the libraries' own hooks, recorded only while a request runs.
    capture_sql: bool = option(_boolean, True)
    capture_sql_parameters: bool = option(_boolean, False)  # masked like every value
    capture_http_calls: bool = option(_boolean, True)
    # A single query slower than this is flagged (django-debug-toolbar's SQL_WARNING_THRESHOLD).
    slow_query_seconds: float = option(_number(positive=True), 0.5)
    # Queries (and, separately, calls) kept per request; beyond it counted and summed.
    max_queries_per_request: int = option(_number(integer=True, positive=True), 1000)
    # N+1: one normalised statement from one call site at least this often, its loop (first
    # start to last end) lasting at least this long. Sentry's N+1 detector: 5 repeats over
    # 50 ms (its system defaults, performance.issues.n_plus_one_db.count_threshold /
    # .duration_threshold); Scout APM's insight asks 5 and 150 ms
    # (scout_apm/core/n_plus_one_tracker.py). Both time the queries alone; the loop is timed
    # here because the ORM's per-row work is most of the cost (Django's example N+1 spends
    # 0.4 s in SQLite and 2.6 s building rows), so a fast database does not hide an N+1.
    n_plus_one_min_repeats: int = option(_number(integer=True, positive=True), 5)
    n_plus_one_min_seconds: float = option(_number(), 0.05)

    def __init__(self, **values: Any) -> None:
        self._apply(_collect([(values, _field_label, False)]))

    # --- construction from other sources ------------------------------------------------

    @classmethod
    def from_layers(cls, *layers: Layer) -> Config:
        """Build from several sources, each ``(values, label, text)``; later layers win.

        ``values`` are keyed by field name (case-insensitive, optional ``WPM_`` prefix);
        ``label`` turns a field name into the key as the user wrote it in that source, so an
        error names it (``WPM_THRESHOLD_SECONDS``, ``app.config["WPM_..."]``); ``text`` is True
        for sources that only hold strings (environment, files), where "1.5" and "yes" are fine.
        """
        config = cls()
        config._apply(_collect(layers))
        return config

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], *, label: Label | None = None, text: bool = True
    ) -> Config:
        """Build from field names (case-insensitive, optional ``WPM_`` prefix).

        ``label`` turns a field name into the key the user wrote, for error messages.
        """
        return cls.from_layers((values, label or _field_label, text))

    @classmethod
    def from_prefixed(
        cls, settings: MutableMapping[str, Any], *, label: Label, prefix: str = ENV_PREFIX,
        environ: Mapping[str, str] | None = None,
    ) -> Config:
        """Build from a framework's config (Flask/Sanic ``app.config``) with ``WPM_*`` keys.

        Precedence: the framework's own keys, then ``WPM_*`` environment variables, then the
        defaults. The effective values are written for the keys the user did not set (never
        over theirs), so the framework's config shows them, as Flask extensions customarily do.
        """
        own = {key: value for key, value in settings.items() if key.startswith(prefix)}
        config = cls.from_layers(environment_layer(environ), (own, label, True))
        for item in dataclasses.fields(cls):
            settings.setdefault(prefix + item.name.upper(), copy.copy(getattr(config, item.name)))
        return config

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Build from ``WPM_*`` variables (an error names the variable); ``overrides`` win."""
        return cls.from_layers(environment_layer(environ, strict=True),
                               (overrides, _field_label, False))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Config:
        """Build from a TOML file (a ``[wpm]`` table or top-level keys) or a JSON object."""
        file = Path(path)
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise ConfigError(str(file), f"cannot read configuration file: {exc}") from None
        try:
            if file.suffix.lower() == ".json":
                data = json.loads(raw)
            else:
                data = tomllib.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(str(file), f"expected a TOML or JSON document: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(str(file), "expected a table/object of configuration keys")
        section = data.get("wpm", data)
        if not isinstance(section, dict):
            raise ConfigError(f"{file}[wpm]", "expected a table of configuration keys")
        return cls.from_mapping(section, label=lambda name: f"{file}: {name}", text=True)

    def replace(self, **changes: Any) -> Config:
        """A validated copy with ``changes`` applied (unknown keys raise ``ConfigError``)."""
        current = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        return type(self).from_layers((current, _field_label, False),
                                      (changes, _field_label, False))

    # --- validation ----------------------------------------------------------------------

    def _apply(self, chosen: Mapping[str, tuple[Any, Label, bool]]) -> None:
        """Check every value (defaults for the missing ones), then the rules between fields.

        ``chosen`` maps a field name to its value, the label of its source and whether that
        source is text (see ``from_layers``).
        """
        for item in dataclasses.fields(self):
            if item.name in chosen:
                value, label, text = chosen[item.name]
            else:
                value = (item.default_factory() if item.default_factory is not dataclasses.MISSING
                         else item.default)
                label, text = _field_label, False
            setattr(self, item.name, check_field(item.name, value, label=label, text=text))
        if self.enable_mattermost:
            for name in ("mattermost_server_url", "mattermost_token", "mattermost_channel_id"):
                if not getattr(self, name):
                    # Named in the form of the source that enabled Mattermost.
                    source = chosen.get(name) or chosen.get("enable_mattermost")
                    label = source[1] if source is not None else _field_label
                    raise ConfigError(
                        label(name), "required when enable_mattermost is true (got nothing)"
                    )
        for name, needs in _NEEDS_WEBHOOK.items():
            if getattr(self, name) and not getattr(self, needs):
                label = chosen[name][1] if name in chosen else _field_label
                raise ConfigError(label(name), f"set without {needs}: it belongs to that "
                                  "webhook, and nothing would use it")
        self._blacklist = _compile(self.url_blacklist)
        self._whitelist = _compile(self.url_whitelist)

    @property
    def trigger_seconds(self) -> float:
        """When the sampler starts looking at a request: 10 ms, or 5% of a large threshold."""
        if self.profiler_trigger_seconds is not None:
            return self.profiler_trigger_seconds
        return max(0.01, 0.05 * self.threshold_seconds)

    # --- URL filters ---------------------------------------------------------------------

    def add_blacklist_url(self, pattern: str) -> None:
        """Stop alerting on endpoints whose path or route fully matches ``pattern``."""
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ConfigError(
                "url_blacklist", f"invalid regular expression {pattern!r}: {exc}"
            ) from None
        if pattern not in self.url_blacklist:
            self.url_blacklist = [*self.url_blacklist, pattern]
            self._blacklist = _compile(self.url_blacklist)

    def remove_blacklist_url(self, pattern: str) -> bool:
        """Remove ``pattern``; returns whether it was present."""
        if pattern not in self.url_blacklist:
            return False
        self.url_blacklist = [p for p in self.url_blacklist if p != pattern]
        self._blacklist = _compile(self.url_blacklist)
        return True

    def is_url_blacklisted(self, path: str, route: str | None = None) -> bool:
        """True when blacklisting is on and ``path`` (query excluded) or ``route`` matches."""
        if not self.enable_url_blacklist or self._blacklist is None:
            return False
        return _matches(self._blacklist, path, route)

    def is_url_alertable(self, path: str, route: str | None = None) -> bool:
        """Whether a slow request on this path/route may alert (blacklist and whitelist)."""
        if self.is_url_blacklisted(path, route):
            return False
        if self.enable_url_whitelist:
            return self._whitelist is not None and _matches(self._whitelist, path, route)
        return True

    # --- presentation --------------------------------------------------------------------

    def as_dict(self, *, masked: bool = True) -> dict[str, Any]:
        """Field values; secrets are masked unless ``masked`` is False.

        A webhook URL keeps its scheme and host (which platform, which deployment) and loses
        its path and query, where the platforms put the key.
        """
        data = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        if masked:
            for item in dataclasses.fields(self):
                kind, value = item.metadata["secret"], data[item.name]
                if kind == "value" and value:
                    data[item.name] = MASK
                elif kind == "url" and value:
                    data[item.name] = _masked_url(value)
                elif kind == "urls":
                    data[item.name] = [_masked_url(url) for url in value]
        return data

    def secret_values(self) -> list[str]:
        """Every credential this configuration holds, for ``masking.register_secret``: whole
        secrets, whole webhook URLs, and the parts of a URL that are keys (query values,
        passwords, long path segments; for Apprise URLs also the host, often a bot token)."""
        found: list[str] = []
        for item in dataclasses.fields(self):
            kind, value = item.metadata["secret"], getattr(self, item.name)
            if kind == "value" and value:
                found.append(value)
            elif kind == "url" and value:
                found.extend(_url_secrets(value, host_is_secret=False))
            elif kind == "urls":
                for url in value:
                    found.extend(_url_secrets(url, host_is_secret=True))
        return found

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={value!r}" for key, value in self.as_dict().items())
        return f"Config({inner})"


FIELD_NAMES = frozenset(item.name for item in dataclasses.fields(Config))
_CHECK_OF: dict[str, Check] = {item.name: item.metadata["check"]
                               for item in dataclasses.fields(Config)}


def check_field(name: str, value: Any, *, label: Label = _field_label, text: bool = True) -> Any:
    """Validate one field on its own (no cross-field rules); returns the normalised value.

    For tools that report every bad key at once, such as Django's system checks.
    """
    if name not in FIELD_NAMES:
        raise ConfigError(label(name), _unknown_key_hint(name, label))
    try:
        return _CHECK_OF[name](value, text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(label(name), str(exc)) from None


def _normalise_key(key: str) -> str:
    name = key.strip().lower()
    return name[len(ENV_PREFIX):] if name.startswith(ENV_PREFIX.lower()) else name


def suggest_key(name: str) -> str | None:
    """The known field closest to a misspelt ``name``, if any is close."""
    close = difflib.get_close_matches(name.lower(), sorted(FIELD_NAMES), n=1)
    return close[0] if close else None


def _unknown_key_hint(name: str, label: Label) -> str:
    """The problem, with the closest known key in the form the user writes keys in."""
    close = suggest_key(name)
    if close is None:
        return "unknown configuration key (the README's Options table lists them all)"
    shown = repr(close) if label is _field_label else label(close)
    return f"unknown configuration key; did you mean {shown}?"


def environment_layer(environ: Mapping[str, str] | None = None, *,
                      strict: bool = False) -> Layer:
    """The ``WPM_*`` variables of ``environ`` (default ``os.environ``) as a layer.

    The environment is shared with other software, so under a framework (``strict=False``) a
    ``WPM_*`` variable that names no option is skipped with a warning; ``Config.from_env``
    (``strict=True``) raises ``ConfigError`` for it. A known option with a bad value raises
    either way.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name in FIELD_NAMES or strict:
            values[name] = value
        else:
            logger.warning("web_performance_monitor: ignoring the environment variable %s: %s",
                           key, _unknown_key_hint(name, env_label))
    return values, env_label, True


def _collect(layers: Iterable[Layer]) -> dict[str, tuple[Any, Label, bool]]:
    """Each field's winning value with its source's label; unknown keys raise ``ConfigError``."""
    chosen: dict[str, tuple[Any, Label, bool]] = {}
    for values, label, text in layers:
        for raw_key, value in values.items():
            name = _normalise_key(str(raw_key))
            if name not in FIELD_NAMES:
                raise ConfigError(str(raw_key) if label is _field_label else label(name),
                                  _unknown_key_hint(name, label))
            chosen[name] = (value, label, text)
    return chosen


# An option that belongs to a webhook: set without it is a mistake (ConfigError naming it).
_NEEDS_WEBHOOK = {
    "dingtalk_secret": "dingtalk_webhook_url",
    "dingtalk_keyword": "dingtalk_webhook_url",
    "dingtalk_at_mobiles": "dingtalk_webhook_url",
    "feishu_secret": "feishu_webhook_url",
    "mattermost_webhook_channel": "mattermost_webhook_url",
    "mattermost_webhook_username": "mattermost_webhook_url",
    "webhook_secret": "webhook_url",
}
_SECRET_PART = 16  # characters: a path segment at least this long is taken for a key
_SECRET_QUERY = 8  # characters: a query value at least this long (not "prod", "ops")
_URL_PIECES = re.compile(r"[/:@?&=#]+")


def _masked_url(url: str) -> str:
    """``scheme://host[:port]/********``: which service, without the key."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}/{MASK}"
    return f"{parts.scheme}://{MASK}"


def _url_secrets(url: str, *, host_is_secret: bool) -> list[str]:
    parts = urlsplit(url)
    found = [url]
    if parts.password:
        found.append(parts.password)
    for piece in _URL_PIECES.split(parts.netloc if host_is_secret else ""):
        if len(piece) >= _SECRET_PART:
            found.append(piece)
    found.extend(piece for piece in parts.path.split("/") if len(piece) >= _SECRET_PART)
    for pair in parts.query.split("&"):
        value = pair.partition("=")[2]
        if len(value) >= _SECRET_QUERY:
            found.append(value)
    return found


def _compile(patterns: list[str]) -> tuple[re.Pattern[str], ...] | None:
    return tuple(re.compile(p) for p in patterns) or None


def _matches(patterns: tuple[re.Pattern[str], ...], path: str, route: str | None) -> bool:
    path = path.split("?", 1)[0]
    return any(p.fullmatch(path) or (route and p.fullmatch(route)) for p in patterns)
