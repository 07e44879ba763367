"""One masking policy for everything that leaves the process: reports, alerts, file names, logs.

Keys are matched case-insensitively as substrings, so ``X-Api-Key``, ``user_password`` and
``sessionid`` are all caught by the defaults. The defaults are the union of what Sentry, Elastic
APM, django-silk and Scout mask.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "********"

DEFAULT_SENSITIVE_KEYS: tuple[str, ...] = (
    "password", "passwd", "pwd", "secret", "token", "auth", "api_key", "apikey", "api-key",
    "key", "credential", "session", "sessid", "cookie", "csrf", "xsrf", "signature", "private",
    "credit", "card", "cvv", "principal", "jwt", "bearer", "otp", "username",
)

_MAX_DEPTH = 32
# Secret values the configuration holds (tokens): replaced wherever text leaves the process.
_secrets: frozenset[str] = frozenset()


def register_secret(value: str | None) -> None:
    """Make sure ``value`` never appears in a log line or message of this library."""
    global _secrets
    if value and len(value) >= 4:
        _secrets = _secrets | {value}


def secrets_registered() -> bool:
    return bool(_secrets)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by the mask."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class Masker:
    """Masks values whose key contains one of the sensitive words."""

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        self.keys = tuple(dict.fromkeys(k.lower() for k in (*DEFAULT_SENSITIVE_KEYS, *extra_keys)))

    def is_sensitive(self, key: object) -> bool:
        lowered = str(key).lower()
        return any(word in lowered for word in self.keys)

    def pairs(self, items: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """Mask a list of (key, value) pairs, such as query parameters or headers."""
        return [(k, MASK if self.is_sensitive(k) else self.value(v)) for k, v in items]

    def value(self, value: Any, depth: int = 0) -> Any:
        """Mask nested dicts/lists at any depth (JSON bodies); scalars pass through."""
        if depth > _MAX_DEPTH:
            return "[too deeply nested]"
        if isinstance(value, dict):
            return {
                k: MASK if self.is_sensitive(k) else self.value(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.value(v, depth + 1) for v in value]
        return value
