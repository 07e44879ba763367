"""What every webhook channel shares: one HTTP client, the platforms' answers, their rate limits.

Each platform module (``dingtalk``, ``feishu``, ``wecom``, ``slack``, ``mattermost_webhook``,
``webhook``) only says how a message looks and how its platform answers; this module posts it.

- **HTTP**: one ``httpx.Client`` per notifier (the ``[webhooks]`` extra): explicit timeouts,
  kept-alive connections, one connect retry. Its errors become ``WebhookError`` with a message
  that never holds the URL (the URL is the credential on every one of these platforms).
  httpx logs each request's URL at INFO ("HTTP Request: POST https://...?access_token=..."):
  its loggers mask our registered secrets too, so a host that logs at INFO sees no key.
- **Answers**: HTTP 429 raises ``RetryLater`` with the ``Retry-After`` seconds; another non-2xx
  is a failure. Chat robots also answer *failures* with HTTP 200 and an error code in the body
  (DingTalk ``errcode``, Feishu ``code``, WeCom ``errcode``): a non-zero code is a failure, and a
  platform's own rate-limit code raises ``RetryLater``.
- **Rate limits, before sending**: each platform documents a limit per robot (DingTalk 20 a
  minute, Feishu 100 a minute and 5 a second, WeCom 20 a minute, Slack about 1 a second).
  Over it, an alert is held and merged with the others held into one digest message, posted
  as soon as the window allows, so nothing is dropped and nothing is sent to be refused.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import threading
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from ..config import ConfigError
from ..events import Alert
from ..masking import scrub
from .base import Notifier, RetryLater
from .mattermost import retry_after

USER_AGENT = "web-performance-monitor"
DEFAULT_RATE_LIMIT_WAIT = 60.0  # seconds, when a platform's rate-limit code names no time


class _Scrubbed(logging.Filter):
    """A library's log records with every registered secret masked (``masking.scrub``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = scrub(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_SCRUBBED = _Scrubbed()


def scrub_logs_of(*names: str) -> None:
    """Mask our secrets in what the loggers ``names`` log (a filter applies to its own logger
    only, not to children, so each one is named)."""
    for name in names:
        logging.getLogger(name).addFilter(_SCRUBBED)


scrub_logs_of("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2",
              "httpcore.proxy")


class WebhookError(Exception):
    """A platform refused a message or could not be reached; the text never holds the URL."""


def require_httpx(option: str) -> None:
    """``ConfigError`` naming ``option`` when the ``[webhooks]`` extra is missing: raised at
    start-up, not at the first alert."""
    try:
        import httpx  # noqa: F401
    except ImportError:
        raise ConfigError(option, "needs httpx: pip install "
                          "'web-performance-monitor[webhooks]'") from None


def http_client(timeout: float) -> Any:
    """An ``httpx.Client`` with ``timeout`` seconds for every phase of a request."""
    import httpx

    return httpx.Client(timeout=httpx.Timeout(timeout), headers={"User-Agent": USER_AGENT},
                        transport=httpx.HTTPTransport(retries=1), follow_redirects=False)


@dataclass(frozen=True, slots=True)
class Facts:
    """What every message says about one alert (the same for every platform).

    Built only from the alert's rendered, masked fields: never from the raw request.
    """

    title: str
    endpoint: str
    kind: str
    duration: float  # seconds
    threshold: float  # seconds
    status: int | None
    error: str | None
    service: str | None
    trace_id: str | None
    headline: list[tuple[str, float]]  # hot lines (name, seconds)
    suppressed: int  # slow, not alerted since the previous alert
    started_at: float  # wall-clock seconds
    report_url: str | None
    diagnosis: str = ""  # why it was slow, one sentence (``Alert.headline``)

    @classmethod
    def of(cls, alert: Alert, service: str | None, report_base_url: str | None) -> Facts:
        event = alert.event
        url = f"{report_base_url.rstrip('/')}/{alert.filename}" if report_base_url else None
        return cls(title=alert.title, endpoint=event.endpoint, kind=event.kind,
                   duration=event.duration, threshold=event.threshold, status=event.status,
                   error=event.error, service=service or event.service or None,
                   trace_id=alert.trace.get("trace_id"),
                   headline=list(alert.hot_frames[:3]), suppressed=alert.suppressed_before,
                   started_at=event.started_at, report_url=url, diagnosis=alert.headline)

    def as_json(self) -> dict[str, Any]:
        """The generic webhook's body (documented in the README)."""
        return {"title": self.title, "endpoint": self.endpoint, "kind": self.kind,
                "duration_seconds": round(self.duration, 6),
                "threshold_seconds": round(self.threshold, 6), "status": self.status,
                "error": self.error, "service": self.service, "trace_id": self.trace_id,
                "hot_functions": [{"function": name, "self_seconds": round(seconds, 6)}
                                  for name, seconds in self.headline],
                "suppressed_since_last_alert": self.suppressed,
                "started_at": self.started_at, "report_url": self.report_url,
                "diagnosis": self.diagnosis}


def _md(text: str) -> str:
    """Request-derived text inside a Markdown code span: no backticks or line breaks."""
    return "".join("?" if ch == "`" or ord(ch) < 32 else ch for ch in text)[:300]


def _md_sentence(text: str) -> str:
    """The diagnosis sentence: its backticked statements stay code spans (their own
    backticks were never kept: ``sql_text``/``_md``), line breaks and control characters go."""
    return "".join(" " if ord(ch) < 32 else ch for ch in text)[:600]


def markdown(facts: Facts, *, bold: str = "**", link: str = "[{text}]({url})") -> list[str]:
    """The message as Markdown lines; ``bold`` and ``link`` adapt it to a platform's dialect
    (Slack's mrkdwn: ``*`` and ``<{url}|{text}>``)."""
    lines = [_md_sentence(facts.diagnosis)] if facts.diagnosis else []
    lines += [f"{bold}{facts.title.split(':', 1)[0]}: `{_md(facts.endpoint)}`{bold}",
             f"Duration {bold}{facts.duration:.3f} s{bold} (threshold {facts.threshold:.3f} s)"
             + (f", status {facts.status}" if facts.status is not None else "")
             + (f", exception {_md(facts.error)}" if facts.error else "")]
    if facts.service:
        lines.append(f"Service `{_md(facts.service)}`")
    if facts.trace_id:
        lines.append(f"Trace id `{_md(facts.trace_id)}`")
    if facts.headline:
        lines.append("Hot lines: " + ", ".join(f"`{_md(name)}` {seconds:.3f} s"
                                                    for name, seconds in facts.headline))
    if facts.suppressed:
        lines.append(f"{facts.suppressed} more slow requests since the previous alert were "
                     "not alerted")
    if facts.report_url:
        lines.append(link.format(text="Open the report", url=facts.report_url))
    return lines


def digest_title(count: int) -> str:
    """The title of a digest of ``count`` held alerts ("3 slow endpoints")."""
    return f"{count} slow endpoint{'' if count == 1 else 's'}"


def digest_lines(all_facts: list[Facts], *, bold: str = "**",
                 link: str = "[{text}]({url})") -> list[str]:
    """One line per held alert, for a digest message."""
    lines = [f"{bold}{digest_title(len(all_facts))}{bold} (merged into one message to stay "
             "within the platform's rate limit)"]
    for facts in all_facts:
        line = (f"- `{_md(facts.endpoint)}` {facts.duration:.3f} s "
                f"(threshold {facts.threshold:.3f} s)"
                + (f", status {facts.status}" if facts.status is not None else "")
                + (f", trace `{_md(facts.trace_id)}`" if facts.trace_id else ""))
        if facts.report_url:
            line += " " + link.format(text="report", url=facts.report_url)
        lines.append(line)
    return lines


def truncate_bytes(text: str, limit: int, note: str = "\n… (truncated)") -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (never inside a character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[:max(0, limit - len(note.encode("utf-8")))].decode("utf-8", errors="ignore")
    return cut + note


class RateWindow:
    """A platform's documented limits, each ``(messages, seconds)``, counted before sending."""

    def __init__(self, limits: tuple[tuple[int, float], ...]) -> None:
        self.limits = limits
        longest = max((count for count, _ in limits), default=0)
        self._sent: collections.deque[float] = collections.deque(maxlen=longest or None)

    def wait(self, cost: int = 1) -> float:
        """Seconds until ``cost`` more messages may be sent (0: now)."""
        now = time.monotonic()
        wait = 0.0
        for count, seconds in self.limits:
            recent = [t for t in self._sent if t > now - seconds]
            if len(recent) + cost > count:
                # the oldest messages that must leave the window first
                wait = max(wait, recent[len(recent) + cost - count - 1] + seconds - now)
        return wait

    def record(self, cost: int = 1) -> None:
        now = time.monotonic()
        self._sent.extend([now] * cost)


class WebhookNotifier(Notifier):
    """A channel that posts JSON to a webhook URL; subclasses say what to post.

    ``send`` posts the alert when the platform's window allows, else holds it for a digest
    (see the module docstring); the digest goes out from a timer when the window opens, or
    at ``close``. A held alert counts as delivered: a digest that then fails is logged and
    counted in ``internal_errors``.
    """

    limits: ClassVar[tuple[tuple[int, float], ...]] = ()  # (messages, seconds), per platform
    option: ClassVar[str]  # the option that enables the channel, for errors
    cost: ClassVar[int] = 1  # messages one alert posts (WeCom: the summary and the file)

    def __init__(self, url: str, *, timeout: float = 10.0, service: str | None = None,
                 report_base_url: str | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.service = service
        self.report_base_url = report_base_url
        self.window = RateWindow(self.limits)
        require_httpx(self.option)
        self._client: Any = None  # opened at the first post, again after close()
        self._lock = threading.RLock()
        self._held: list[Facts] = []
        self._timer: threading.Timer | None = None
        self.digests = 0  # digest messages sent

    # --- what a platform defines ------------------------------------------------------------

    @abstractmethod
    def post_alert(self, alert: Alert, facts: Facts) -> None:
        """Post one alert (through ``post_json``)."""

    # The platform's Markdown flavour, for the default digest.
    bold: ClassVar[str] = "**"
    link: ClassVar[str] = "[{text}]({url})"

    def post_titled(self, title: str, lines: list[str]) -> None:
        """Post a title and Markdown lines: the message shape most robots take."""
        raise NotImplementedError(f"{type(self).__name__} defines its own messages")

    def post_digest(self, held: list[Facts]) -> None:
        """Post several held alerts as one message."""
        self.post_titled(digest_title(len(held)),
                         digest_lines(held, bold=self.bold, link=self.link))

    def post_text(self, text: str) -> None:
        """Post a plain message (the test alert)."""
        self.post_titled("web-performance-monitor test", [text])

    def check_answer(self, status: int, body: bytes) -> None:
        """Raise for a refusal that came with a 2xx status (the robots' error codes)."""

    # --- sending ------------------------------------------------------------------------------

    def send(self, alert: Alert) -> None:
        facts = Facts.of(alert, self.service, self.report_base_url)
        with self._lock:
            if self._held or self.window.wait(self.cost) > 0:
                self._held.append(facts)
                self._schedule()
                return
            self.window.record(self.cost)
        self.post_alert(alert, facts)

    def send_test(self) -> None:
        """A short real message (counted in the window like any other)."""
        with self._lock:
            self.window.record()
        self.post_text("web-performance-monitor: test alert. Alerts for slow endpoints will "
                       "arrive here.")

    def _schedule(self, delay: float | None = None) -> None:
        """Flush the held alerts after ``delay`` seconds (default: when the window opens)."""
        if self._timer is None:
            delay = max(self.window.wait() if delay is None else delay, 0.01)
            self._timer = threading.Timer(delay, self._flush_held)
            self._timer.daemon = True
            self._timer.name = f"wpm-{self.name}-digest"
            self._timer.start()

    def _flush_held(self) -> None:
        """Post what is held as one digest (or the single alert's summary), on the timer."""
        with self._lock:
            self._timer = None
            if not self._held:
                return
            wait = self.window.wait()
            if wait > 0:
                self._schedule()
                return
            held, self._held = self._held, []
            self.window.record()
        try:
            self.post_digest(held)
            self.digests += 1
        except RetryLater as exc:
            with self._lock:  # back in front, tried again when the platform said
                self._held[:0] = held
                self._schedule(exc.seconds)
        except Exception as exc:
            self.report_error(f"sending a digest to {self.name}", exc)

    def close(self) -> None:
        """Post what is still held (one last digest, best effort), then close connections."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        with self._lock:
            held, self._held = self._held, []
        if held:
            try:
                self.post_digest(held)
                self.digests += 1
            except Exception as exc:
                self.report_error(f"sending a digest to {self.name}", exc)
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- HTTP -----------------------------------------------------------------------------

    def post_json(self, payload: dict[str, Any], *, url: str | None = None,
                  headers: dict[str, str] | None = None,
                  params: dict[str, str] | None = None) -> bytes:
        """POST ``payload`` as UTF-8 JSON; returns the body of an accepted answer."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return self.post_bytes(body, url=url, params=params,
                               headers={"Content-Type": "application/json; charset=utf-8",
                                        **(headers or {})})

    def post_bytes(self, body: bytes, *, url: str | None = None,
                   headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                   files: dict[str, Any] | None = None) -> bytes:
        """POST and check the answer (see the module docstring); raises ``WebhookError`` or
        ``RetryLater``."""
        import httpx

        url = url or self.url
        if params:  # added to the platform's own query (httpx's ``params`` would replace it)
            url += ("&" if "?" in url else "?") + urlencode(params)
        with self._lock:
            if self._client is None:
                self._client = http_client(self.timeout)
            client = self._client
        try:
            response = client.post(url, content=body or None, files=files, headers=headers)
        except httpx.TimeoutException as exc:
            raise WebhookError(f"{self.name}: no answer within {self.timeout:g} s "
                               f"({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise WebhookError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        if response.status_code == 429:
            raise RetryLater(retry_after(response.headers.get("Retry-After")),
                             f"{self.name} answered 429 Too Many Requests")
        if not 200 <= response.status_code < 300:
            raise WebhookError(f"{self.name} answered HTTP {response.status_code}: "
                               f"{response.text[:200]!r}")
        self.check_answer(response.status_code, response.content)
        content: bytes = response.content
        return content


def error_code(body: bytes, field: str, message_field: str) -> tuple[int, str] | None:
    """``(code, message)`` from a robot's JSON answer when ``field`` is non-zero, else None."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    code = answer.get(field)
    if isinstance(code, int) and code != 0:
        return code, str(answer.get(message_field, ""))[:200]
    return None


def check_code(name: str, body: bytes, field: str, message_field: str,
               rate_limited: dict[int, float]) -> None:
    """Raise for a non-zero ``field`` in a 200 answer: ``RetryLater`` for a rate-limit code
    (the seconds in ``rate_limited``), ``WebhookError`` with the platform's message otherwise.
    """
    found = error_code(body, field, message_field)
    if found is None:
        return
    code, message = found
    if code in rate_limited:
        raise RetryLater(rate_limited[code], f"{name} is rate-limited ({field} {code}: {message})")
    raise refusal(field, code)(f"{name} refused the message: {field} {code}: {message}")


@functools.cache
def refusal(field: str, code: int) -> type[WebhookError]:
    """A ``WebhookError`` subclass per platform error code (``Errcode310000``): the monitor's
    error log logs each kind of failure once, by exception type, so a second kind of refusal
    (a wrong signature after a missing keyword) is logged at WARNING too."""
    return type(f"{field.capitalize()}{code}", (WebhookError,), {"__module__": __name__})
