"""A corpus of planted secrets (issue 13): every class the masking policy must catch.

Each framework's test sends the same requests through its own app (routes written its way),
with secrets made unique per framework, then searches every report (in memory and on disk),
report file name, chat message and captured log line for them. ``Corpus.calls`` are the
requests; ``Corpus.secrets`` what must never be found; ``Corpus.innocent`` what must be shown.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import RecordingNotifier

LONE_SURROGATE_JSON = '"nice \\ud83d"'  # valid JSON text; the string it decodes to is not UTF-8


@dataclass(frozen=True)
class Call:
    """One request. ``route`` is neutral (``{name}`` variables); each framework rewrites it."""

    method: str
    route: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_type: str | None = None

    def route_as(self, style: str) -> str:
        """``flask``/``sanic``: ``<name>``; ``django``: ``<str:name>`` without the leading
        slash; ``starlette``: as it is."""
        if style == "starlette":
            return self.route
        if style == "django":
            return re.sub(r"\{(\w+)\}", r"<str:\1>", self.route).lstrip("/")
        return re.sub(r"\{(\w+)\}", r"<\1>", self.route)

    @property
    def url(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")


def _luhn_number(seed: int) -> str:
    """A payment card number that passes the Luhn check, different per seed."""
    digits = f"4111{seed:011d}"
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


@dataclass
class Corpus:
    """The planted secrets of one framework run (``prefix`` keeps them apart)."""

    prefix: str
    secrets: dict[str, str] = field(default_factory=dict)  # label -> secret
    calls: list[Call] = field(default_factory=list)
    innocent: tuple[str, ...] = ("alice", "shoes", "step=2", "2030-01-01")

    def __post_init__(self) -> None:
        p = self.prefix
        s = self.secrets

        def plant(label: str, value: str | None = None) -> str:
            s[label] = value or f"{p}{label.replace('_', '')[:10]}{len(s)}Q"
            return s[label]

        json_headers = (("Content-Type", "application/json"),)
        # Path values: by route variable where the framework names them (token-like either way,
        # so a plain WSGI app masks them by entropy).
        self.calls.append(Call("GET", "/reset/{token}", f"/reset/{plant('path_token')}"))
        key = plant("reset_key", f"1-{p.lower()}abc123-6f5b9c8d")
        self.calls.append(Call("GET", "/accounts/password/reset/key/{key}/",
                               f"/accounts/password/reset/key/{key}/"))
        self.calls.append(Call("GET", "/accounts/confirm-email/{key}/",
                               f"/accounts/confirm-email/{plant('email_key')}/"))
        # OAuth callback (django-allauth's shape) and one-time codes posted as JSON.
        self.calls.append(Call("GET", "/accounts/google/login/callback/",
                               "/accounts/google/login/callback/",
                               urlencode({"code": plant("oauth_code"),
                                          "state": plant("oauth_state")})))
        self.calls.append(Call("POST", "/accounts/login/code/confirm/",
                               "/accounts/login/code/confirm/",
                               body=json.dumps({"code": plant("login_code", f"{p}XR-TZPD")})
                               .encode(), headers=json_headers))
        self.calls.append(Call("POST", "/accounts/2fa/authenticate/", "/accounts/2fa/authenticate/",
                               body=json.dumps({"code": plant("totp_code")}).encode(),
                               headers=json_headers))
        # Keys of every spelling, nested JSON, and secrets inside values.
        jwt = plant("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJ" + base64.urlsafe_b64encode(
            f'"sub":"{p}"'.encode()).decode().rstrip("=") + ".c2lnbmF0dXJl")
        body = (
            '{"username": "alice", "author": "Lu", "keyword": "shoes",'
            f' "password": "{plant("password")}", "pass": "{plant("pass")}",'
            f' "pw": "{plant("pw")}", "passphrase": "{plant("passphrase")}",'
            f' "pass_word": "{plant("pass_word")}", "PASS-WORD": "{plant("PASS_WORD")}",'
            f' "p\u0430ssword": "{plant("cyrillic_a")}", "apiKey": "{plant("apiKey")}",'
            f' "sessionid": "{plant("sessionid")}", "card_number": "{plant("card_number")}",'
            f' "nested": {{"deep": [{{"accessToken": "{plant("accessToken")}"}}]}},'
            f' "dsn": "postgresql://app:{plant("dsn_password")}@db/x",'
            f' "query": "mutation {{ login(username: \\"alice\\", password: '
            f'\\"{plant("graphql_password")}\\") }}",'
            f' "redirect_uri": "https://x.example/?token={plant("redirect_token")}&step=2",'
            f' "note": "bearer {jwt}", "pan": "{plant("card", _luhn_number(len(p) * 977))}",'
            f' "text": {LONE_SURROGATE_JSON}}}'
        )
        self.calls.append(Call("POST", "/api/login", "/api/login", body=body.encode(),
                               headers=json_headers))
        # Query keys, SAS signature, and headers whose values hold URLs and k=v strings.
        self.calls.append(Call(
            "GET", "/search", "/search",
            urlencode({"keyword": "shoes", "access_token": plant("access_token"),
                       "sig": plant("sas_sig"), "se": "2030-01-01"}),
            headers=(("Referer", f"https://shop.example/reset?token={plant('referer')}&step=2"),
                     ("X-Original-URL", f"/reset?token={plant('original_url')}"),
                     ("Authorization", f"Bearer {plant('authorization')}"),
                     ("Cookie", f"sessionid={plant('cookie')}; theme=dark"),
                     ("X-Api-Key", plant("x_api_key")),
                     ("X-Note", f"a=1;token={plant('semicolon_token')}"))))
        self.calls.append(Call(
            "POST", "/form", "/form",
            body=urlencode({"redirect_uri": f"https://x.example/cb?token={plant('form_url')}",
                            "password": plant("form_password"),
                            "note": f"a=1; token={plant('form_kv')}", "name": "alice"}).encode(),
            headers=(("Content-Type", "application/x-www-form-urlencoded"),)))
        # A path no route knows (404): a token-like segment.
        self.calls.append(Call("GET", "", f"/unknown/{plant('unrouted')}"))
        assert len(set(s.values())) == len(s)  # each secret found is one leak

    @property
    def routes(self) -> list[Call]:
        """One call per route (the 404 call has none)."""
        return [call for call in self.calls if call.route]


def outputs(recorder: RecordingNotifier, report_dir: Path,
            caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every text that left the monitor: reports, file names, chat messages, log lines."""
    texts: list[str] = []
    for alert in recorder.alerts:
        texts += [alert.html, alert.message, alert.title, alert.filename, alert.event.endpoint]
    for path in report_dir.glob("*"):
        texts += [path.name, path.read_text("utf-8", "replace")]
    for record in caplog.records:  # this library's lines (the framework logs its own 404s)
        if not record.name.startswith("web_performance_monitor"):
            continue
        texts.append(record.getMessage())
        if record.exc_text:
            texts.append(record.exc_text)
    return texts


def found(secrets: Iterable[str], texts: list[str]) -> list[str]:
    """The secrets found anywhere in ``texts`` (also percent- or JSON-escaped)."""
    from urllib.parse import quote, quote_plus

    hits = []
    for secret in secrets:
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        if any(form in text for text in texts for form in forms):
            hits.append(secret)
    return hits


def check(corpus: Corpus, recorder: RecordingNotifier, report_dir: Path,
          caplog: pytest.LogCaptureFixture) -> None:
    """Every call alerted, no secret anywhere, the innocent values shown, reports on disk."""
    texts = outputs(recorder, report_dir, caplog)
    assert len(recorder.alerts) == len(corpus.calls), [a.event.endpoint for a in recorder.alerts]
    assert len(list(report_dir.glob("wpm_*.html"))) == len(corpus.calls)
    leaks = {label: secret for label, secret in corpus.secrets.items()
             if secret in found([secret], texts)}
    assert leaks == {}, leaks
    html = "".join(alert.html for alert in recorder.alerts)
    for word in corpus.innocent:
        assert word in html, word
    assert "\\ud83d" in html  # the lone surrogate, shown escaped
    print(f"corpus {corpus.prefix}: {len(corpus.secrets)} secrets planted, 0 found")
