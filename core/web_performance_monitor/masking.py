"""One masking policy for everything that leaves the process: reports, alerts, file names, logs.

The rule (the README's "Masking" section lists every word):

1. **Keys by their words.** A key is normalised (NFKC; accents, invisible characters and
   look-alike letters of other scripts removed, so a Cyrillic ``\u0430`` in ``p\u0430ssword``
   is a Latin ``a``) and split into words at camelCase humps, digits and every separator:
   ``X-Api-Key`` is x/api/key, ``pass_word`` is pass/word. It is sensitive when one of its
   words is a sensitive word (``key`` hides ``X-Api-Key``, not ``keyword`` or ``monkey``;
   ``auth`` hides ``X-Auth-Token``, not ``author``), when its words written together are a
   listed compound (``PASS-WORD``, ``sessionid``, ``PHPSESSID``), or when it contains an
   unambiguous fragment (``newpassword``, ``max_tokens``). Substring matching on short words
   (the previous rule) masked ``username``, ``keyword``, ``author``, ``discard``: a report that
   hides everything helps nobody.
2. **Authentication flows.** ``code``, ``state`` and ``ticket`` are credentials in an OAuth/OIDC
   callback or a one-time-code form and harmless elsewhere (a country code, an address state):
   they are masked when the request path (or a URL's own path) has an authentication word
   (``login``, ``callback``, ``verify``, ``2fa``...), or when ``code`` and ``state`` come together
   (an OAuth callback wherever it is mounted).
3. **Values.** Every string is searched for URLs (userinfo ``app:S@db`` and their query and
   fragment keys masked, token-like path segments masked), ``k=v; k2=v2`` and ``key: "value"``
   pairs (cookies, GraphQL text, reprs), JSON Web Tokens, payment card numbers (Luhn-valid, the
   value pattern Elastic APM masks) and PEM private keys.

The defaults are at least Sentry's ``DEFAULT_DENYLIST`` (``sentry_sdk/scrubber.py``), Elastic
APM's ``BASE_SANITIZE_FIELD_NAMES`` (``elasticapm/conf/constants.py``), Scout APM's
``FILTER_PARAMETERS`` (``scout_apm/core/web_requests.py``) and django-silk's
``SILKY_SENSITIVE_KEYS`` (``silk/config.py``), except silk's ``username``: it identifies, it does
not authenticate (issue 13 asks for it to be shown). No dependency: the look-alike table is
small and the core depends on pyinstrument only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote_plus

from .paths import mask_segments

MASK = "********"

# A key is sensitive when one of its words is one of these.
SENSITIVE_WORDS: frozenset[str] = frozenset({
    "pass", "password", "passwd", "passphrase", "passcode", "pwd", "pw", "pin",
    "secret", "secrets", "token", "auth", "authorization", "credential", "credentials",
    "cookie", "cookies", "session", "sessid", "sid", "csrf", "xsrf", "signature", "sig",
    "jwt", "bearer", "otp", "totp", "hotp", "verifier", "cvv", "cvc", "card", "credit",
    "ssn", "key", "principal",
})
# ...or when its words written together are one of these (``pass_word``, ``PHPSESSID``), or one
# of its words is (``user_apikey``).
COMPOUND_KEYS: frozenset[str] = frozenset({
    "apikey", "apitoken", "accesstoken", "refreshtoken", "idtoken", "authtoken", "sessionid",
    "sessionkey", "phpsessid", "jsessionid", "csrftoken", "csrfmiddlewaretoken", "xsrftoken",
    "privatekey", "secretkey", "clientsecret", "setcookie", "connectsid", "mysqlpwd",
    "creditcard", "cardnumber", "ccnumber", "securitycode", "samlresponse", "usersession",
    "aiohttpsession", "stripetoken", "authcode", "authorizationcode", "verificationcode",
    "otpcode", "mfacode", "recoverycode", "recoverycodes", "backupcode", "backupcodes",
    "resetcode", "resetkey", "confirmationcode", "confirmationkey", "activationcode",
    "activationkey", "logincode", "accesscode", "onetimecode", "smscode", "twofactorcode",
})
# ...or when the whole key is one of these: names that are harmless as a part of a key
# (``api_version``, ``access_level``) but listed alone by django-silk (``api``), Sentry (the
# address headers, ``symfony``) and Scout (``access``, ``crypt``, ``salt``...).
WHOLE_KEYS: frozenset[str] = frozenset({
    "api", "symfony", "ipaddress", "remoteaddr", "xforwardedfor", "xrealip", "access",
    "certificate", "crypt", "private", "protected", "salt",
})
# ...or when its letters contain one of these: long enough never to be part of an innocent word.
SENSITIVE_FRAGMENTS: tuple[str, ...] = (
    "password", "passwd", "passphrase", "secret", "token", "credential", "apikey", "sessionid",
    "csrf", "xsrf", "cookie", "signature", "authorization", "privatekey", "bearer",
)
# Credentials only inside an authentication flow (rule 2).
AUTH_FLOW_KEYS: frozenset[str] = frozenset({"code", "state", "ticket"})
# Path words that make a request (or a URL) an authentication flow.
AUTH_PATH_WORDS: frozenset[str] = frozenset({
    "auth", "oauth", "oauth2", "authorize", "authorization", "authenticate", "authentication",
    "reauthenticate", "login", "logon", "signin", "signon", "sso", "callback", "token", "verify",
    "verification", "confirm", "confirmation", "code", "codes", "2fa", "mfa", "otp", "totp",
    "password", "reset", "recovery", "activate", "activation", "saml", "oidc", "openid", "cas",
})

# Letters of other scripts that look like Latin ones (Unicode TR39 confusables, the Cyrillic,
# Greek and Armenian letters that render like ASCII in common fonts).
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ү": "y", "һ": "h", "ɡ": "g", "ı": "i",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n",
})
_HUMPS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_A-Za-z]+")
_SEPARATORS = re.compile(r"[\W_]+")
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


def safe_text(text: str) -> str:
    """``text`` as valid Unicode: a lone surrogate (valid JSON ``"\\ud83d"``, not encodable as
    UTF-8) shown escaped as ``\\ud83d``, so writing, posting or logging it never fails."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _plain(text: str) -> str:
    """Accents, invisible characters (zero-width spaces, soft hyphens) and look-alikes removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cf"))
    return unicodedata.normalize("NFKC", kept).translate(_LOOKALIKES)


@lru_cache(maxsize=4096)
def key_words(key: str) -> tuple[str, ...]:
    """A key's lower-case words: ``X-Api-Key`` -> x, api, key; ``passWord2`` -> pass, word, 2."""
    words: list[str] = []
    for chunk in _SEPARATORS.split(_plain(key)):
        words.extend(w.lower() for w in _HUMPS.findall(chunk))
    return tuple(words)


@lru_cache(maxsize=1024)
def is_auth_path(path: str) -> bool:
    """Whether a path (or route) belongs to an authentication flow (rule 2)."""
    for segment in path.split("/"):
        words = key_words(segment)
        if "".join(words) in AUTH_PATH_WORDS or any(w in AUTH_PATH_WORDS for w in words):
            return True
    return False


# ``key=value`` and ``key: "value"`` anywhere in text: query strings, cookies (``a=1; token=S``),
# GraphQL arguments (``password: "S"``), reprs (``User(password='S')``), JSON inside strings.
_PAIR = re.compile(
    r"""(?P<q>["']?)(?P<key>[^\W\d][\w.\-\[\]%]{0,80})(?P=q)[ \t]*(?P<sep>[:=])[ \t]*"""
    r"""(?P<value>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
    r"""|(?i:(?:bearer|basic|digest|token)[ \t]+)?[^\s&;,#)}\]"'<>]*)""")
_URL = re.compile(
    r"""(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://)(?P<userinfo>[^\s/?#@"'<>]*@)?"""
    r"""(?P<host>[^\s/?#"'<>]*)(?P<path>[^\s?#"'<>]*)(?P<rest>[?#][^\s"'<>]*)?""")
_JWT = re.compile(r"\beyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*")
_CARD = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?![\w.])")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
                  re.S)
_CODE_AND_STATE = (re.compile(r"(?<![\w.\-])code[\"']?\s*[:=]"),
                   re.compile(r"(?<![\w.\-])state[\"']?\s*[:=]"))


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return MASK if _luhn(digits) else match.group()


class Masker:
    """The masking policy, with the configured ``sensitive_keys`` added.

    ``sensitive_keys`` from the configuration are fragments: a key whose letters contain one is
    masked (``ssn`` masks ``user_ssn``), on top of the rule above.
    """

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        self.extra = tuple(dict.fromkeys(
            joined for joined in ("".join(key_words(k)) for k in extra_keys) if joined))

    def is_sensitive(self, key: object, auth: bool = False) -> bool:
        """Whether the value of ``key`` must be masked (``auth``: inside an authentication flow)."""
        words = key_words(str(key))
        joined = "".join(words)
        if joined in COMPOUND_KEYS or joined in WHOLE_KEYS or (auth and joined in AUTH_FLOW_KEYS):
            return True
        for word in words:
            if word in SENSITIVE_WORDS or word in COMPOUND_KEYS:
                return True
        for fragment in SENSITIVE_FRAGMENTS:
            if fragment in joined:
                return True
        return any(extra in joined for extra in self.extra)

    def pairs(self, items: Iterable[tuple[str, Any]], auth: bool = False) -> list[tuple[str, Any]]:
        """Mask a list of (key, value) pairs: query parameters, form fields, headers."""
        items = list(items)
        auth = auth or _oauth_pair(k for k, _ in items)
        return [(k, MASK if self.is_sensitive(k, auth) else self.value(v, auth=auth))
                for k, v in items]

    def value(self, value: Any, depth: int = 0, auth: bool = False) -> Any:
        """Mask nested dicts/lists at any depth (JSON bodies, arguments) and every string."""
        if depth > _MAX_DEPTH:
            return "[too deeply nested]"
        if isinstance(value, str):
            return self.text(value, auth)
        if isinstance(value, Mapping):
            here = auth or _oauth_pair(value)
            return {k: MASK if self.is_sensitive(k, here) else self.value(v, depth + 1, here)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.value(v, depth + 1, auth) for v in value]
        return value

    def text(self, text: str, auth: bool = False) -> str:
        """``text`` with every secret the policy finds in it masked (rule 3)."""
        if not text:
            return text
        if "PRIVATE KEY" in text:
            text = _PEM.sub(MASK, text)
        if "eyJ" in text:
            text = _JWT.sub(MASK, text)
        text = _CARD.sub(_card, text)
        if "://" in text:
            text = _URL.sub(lambda m: self._url(m, auth), text)
        elif text.startswith("/") and not any(c.isspace() for c in text):  # /reset?token=S
            path, mark, rest = text.partition("?")
            here = auth or is_auth_path(path)
            return mask_segments(path, MASK) + (mark + self._pairs_in(rest, here) if mark else "")
        return self._pairs_in(text, auth)

    def path(self, path: str, params: Mapping[str, Any] | None = None,
             route: str | None = None) -> str:
        """A request path as a report shows it.

        Where the framework names the path's values (``params``: Flask ``view_args``, Starlette
        ``path_params``, Sanic ``match_info``, Django ``resolver_match.kwargs``), the values of
        sensitive names are masked (``/reset/<token>``; ``<code>`` under an authentication
        route). Where it does not (no route, or a route without values), token-like segments are
        (``paths.mask_segments``).
        """
        if not params:
            return mask_segments(path, MASK)
        auth = is_auth_path(route or path)
        segments = path.split("/")
        for name, raw in params.items():
            value = str(raw)
            if not value or not self.is_sensitive(name, auth):
                continue
            forms = {value, quote(value, safe="")}
            for i, segment in enumerate(segments):
                for form in forms:
                    if form and form in segment:
                        segments[i] = segment = segment.replace(form, MASK)
        return "/".join(segments)

    def _pairs_in(self, text: str, auth: bool) -> str:
        if "=" not in text and ":" not in text:
            return text
        auth = auth or all(p.search(text) for p in _CODE_AND_STATE)

        def replace(match: re.Match[str]) -> str:
            key = unquote_plus(match.group("key"))
            if not self.is_sensitive(key, auth):
                return match.group()
            value = match.group("value")
            quoted = value[:1] if value[:1] in ("'", '"') else ""
            start = match.start("value") - match.start()
            return match.group()[:start] + f"{quoted}{MASK}{quoted}"

        return _PAIR.sub(replace, text)

    def _url(self, match: re.Match[str], auth: bool) -> str:
        userinfo = match.group("userinfo") or ""
        if userinfo:
            user, colon, _ = userinfo[:-1].partition(":")
            userinfo = f"{user}:{MASK}@" if colon else f"{MASK}@"
        path = match.group("path")
        rest = match.group("rest") or ""
        here = auth or is_auth_path(path)
        return (match.group("scheme") + userinfo + match.group("host") + mask_segments(path, MASK)
                + (self._pairs_in(rest, here) if rest else ""))


def _oauth_pair(keys: Iterable[object]) -> bool:
    """``code`` next to ``state``: an OAuth callback, wherever it is mounted."""
    seen = {"".join(key_words(str(k))) for k in keys} & {"code", "state"}
    return len(seen) == 2
