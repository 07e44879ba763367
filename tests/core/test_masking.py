"""The masking policy (issue 13): keys by their words, secrets inside values, paths, odd text."""

from __future__ import annotations

import pytest

from web_performance_monitor.masking import MASK, Masker, key_words, safe_text
from web_performance_monitor.paths import endpoint_path, mask_segments, route_values

masker = Masker()

# The default lists of peer tools, as published: the floor of ours.
SENTRY_DEFAULT_DENYLIST = [  # getsentry/sentry-python sentry_sdk/scrubber.py
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credentials", "mysql_pwd",
    "privatekey", "private_key", "token", "ip_address", "session", "csrftoken", "sessionid",
    "remote_addr", "x_csrftoken", "x_forwarded_for", "set_cookie", "cookie", "authorization",
    "x_api_key", "x_real_ip", "aiohttp_session", "connect.sid", "csrf_token", "csrf", "_csrf",
    "_csrf_token", "PHPSESSID", "_session", "symfony", "user_session", "_xsrf", "XSRF-TOKEN",
]
# elastic/apm-agent-python elasticapm/conf/constants.py BASE_SANITIZE_FIELD_NAMES_UNPROCESSED
# (its wildcards dropped: "*key" is the key itself, masked as a word)
ELASTIC_SANITIZE_FIELD_NAMES = [
    "password", "passwd", "pwd", "secret", "key", "token", "session", "credit", "card",
    "auth", "principal", "set-cookie", "authorization",
]
# scoutapp/scout_apm_python scout_apm/core/web_requests.py FILTER_PARAMETERS
SCOUT_FILTER_PARAMETERS = [
    "access", "access_token", "api_key", "apikey", "auth", "auth_token", "card[number]",
    "certificate", "credentials", "crypt", "key", "mysql_pwd", "otp", "passwd", "password",
    "private", "protected", "salt", "secret", "secret_key", "ssn", "stripetoken", "token",
]
# jazzband/django-silk SILKY_SENSITIVE_KEYS, without "username" (issue 13: shown)
SILK_SENSITIVE_KEYS = ["api", "token", "key", "secret", "password", "signature"]
INNOCENT = ["username", "keyword", "author", "monkey", "discard", "cardinality", "user",
            "email", "page", "step", "oauth_provider", "credits", "X-Api-Version", "access_level",
            "private_repo_count", "accept", "content-type", "user-agent"]


@pytest.mark.parametrize("key", SENTRY_DEFAULT_DENYLIST + ELASTIC_SANITIZE_FIELD_NAMES
                         + SCOUT_FILTER_PARAMETERS + SILK_SENSITIVE_KEYS)
def test_every_default_key_of_sentry_elastic_scout_and_silk_is_masked(key: str) -> None:
    assert masker.is_sensitive(key)
    assert masker.value({key: "S"}) == {key: MASK}


@pytest.mark.parametrize("key", INNOCENT)
def test_innocent_keys_are_shown(key: str) -> None:
    assert not masker.is_sensitive(key)
    assert masker.value({key: "shown"}) == {key: "shown"}


@pytest.mark.parametrize("key", [
    "pass", "pw", "passphrase", "pass_word", "PASS-WORD", "sig", "p\u0430ssword",  # Cyrillic a
    "\u0440assword",  # Cyrillic er
    "ｐａｓｓｗｏｒｄ", "pass\u200bword", "pässword", "X-Api-Key", "apiKey", "APIKey",
    "accessToken", "newPassword", "userpassword", "X-Auth-Token", "clientSecret", "sessionId",
    "csrfmiddlewaretoken", "card_number", "cvv", "otp", "jwt", "oauth_token", "code_verifier",
])
def test_sensitive_keys_in_every_spelling(key: str) -> None:
    assert masker.is_sensitive(key), key_words(key)


def test_keys_split_into_words() -> None:
    assert key_words("X-Api-Key") == ("x", "api", "key")
    assert key_words("accessToken") == ("access", "token")
    assert key_words("APIKey2") == ("api", "key", "2")
    assert key_words("p\u0430ss_WORD") == ("pass", "word")


@pytest.mark.parametrize("key", ["code", "state", "ticket"])
def test_code_and_state_are_credentials_only_in_an_auth_flow(key: str) -> None:
    assert not masker.is_sensitive(key)
    assert masker.is_sensitive(key, auth=True)
    assert masker.value({"code": "C", "state": "S"}) == {"code": MASK, "state": MASK}
    assert masker.value({"code": "FR", "name": "France"}) == {"code": "FR", "name": "France"}


@pytest.mark.parametrize(("text", "shown"), [
    ("https://shop.example/reset?token=S3&step=2", "https://shop.example/reset?token=********&step=2"),
    ("/reset?token=S3", "/reset?token=********"),
    ("postgresql://app:S3@db/x", "postgresql://app:********@db/x"),
    ("https://ghp_S3@github.com/o/r", "https://********@github.com/o/r"),
    ("a=1; token=S3; b=2", "a=1; token=********; b=2"),
    ("a=1;token=S3", "a=1;token=********"),
    ('mutation { login(username: "alice", password: "S3") }',
     'mutation { login(username: "alice", password: "********") }'),
    ("User(name='alice', password='S3')", "User(name='alice', password='********')"),
    ("https://x.example/accounts/google/login/callback/?code=C&state=S",
     "https://x.example/accounts/google/login/callback/?code=********&state=********"),
    ("https://app.example/cb#access_token=S3&expires_in=3600",
     "https://app.example/cb#access_token=********&expires_in=3600"),
    ("se=2030&sp=r&sig=S3%3D&sv=1", "se=2030&sp=r&sig=********&sv=1"),
    ("pass%77ord=S3&x=1", "pass%77ord=********&x=1"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "Bearer ********"),
    ("paid with 4111 1111 1111 1111 today", "paid with ******** today"),
    ("order 1234 5678 9012 3456", "order 1234 5678 9012 3456"),  # not a card (Luhn)
    ("https://hooks.slack.com/services/T0AB12CD3/B0AB12CD3/aBcDeFgHiJkLmNoPqRsT",
     "https://hooks.slack.com/services/********/********/********"),
    ("plain words, nothing to hide: keyword=shoes", "plain words, nothing to hide: keyword=shoes"),
])
def test_secrets_inside_values(text: str, shown: str) -> None:
    assert masker.text(text) == shown


def test_values_are_masked_at_any_depth_and_by_value() -> None:
    body = {"a": [{"Password": 1, "ok": 2}], "redirect_uri": "https://x/?token=S3&step=2",
            "query": 'query { me(password: "S3") }', "tuple": ("x", {"pw": "S3"})}
    assert masker.value(body) == {
        "a": [{"Password": MASK, "ok": 2}], "redirect_uri": "https://x/?token=********&step=2",
        "query": 'query { me(password: "********") }', "tuple": ["x", {"pw": MASK}]}


def test_pairs_mask_by_key_and_value() -> None:
    pairs = masker.pairs([("referer", "https://shop.example/reset?token=S3&step=2"),
                          ("x-original-url", "/reset?token=S3"), ("cookie", "sid=S3"),
                          ("accept", "*/*")])
    assert pairs == [("referer", "https://shop.example/reset?token=********&step=2"),
                     ("x-original-url", "/reset?token=********"), ("cookie", MASK),
                     ("accept", "*/*")]


def test_configured_keys_are_fragments() -> None:
    assert Masker(["ssn"]).value({"user_ssn": "x", "name": "y"}) == {"user_ssn": MASK, "name": "y"}


def test_path_values_by_route_name_or_by_shape() -> None:
    assert masker.path("/reset/S3CR3T", {"token": "S3CR3T"}, "/reset/<token>") == "/reset/" + MASK
    assert masker.path("/users/42", {"uid": 42}, "/users/<int:uid>") == "/users/42"
    assert masker.path("/login/code/ABCD", {"code": "ABCD"}, "/login/code/<code>") == \
        "/login/code/" + MASK  # an auth route: the code is a credential
    assert masker.path("/reset/S3CR3T") == "/reset/" + MASK  # no route: by shape
    assert masker.path("/accounts/password/reset/key/1-abc123-6f5b9c8d/") == \
        f"/accounts/password/reset/key/{MASK}/"


def test_route_values_read_a_route_template() -> None:
    assert route_values("/reset/<token>", "/app/reset/S") == {"token": "S"}
    assert route_values("/f/<path:rest>", "/f/a/b") == {"rest": "a/b"}
    assert route_values("/items/{iid}/x", "/items/7/x") == {"iid": "7"}
    assert route_values("/reset/<token>", "/other") is None
    assert route_values("/static", "/static") is None


@pytest.mark.parametrize(("path", "endpoint"), [
    ("/users/42", "/users/{id}"),
    ("/orders/0b0e6f15-b45c-36b1-2000-771a43a41926/items", "/orders/{uuid}/items"),
    ("/blobs/4f3a9c2b1e0d", "/blobs/{hex}"),
    ("/reset/S3CR3T", "/reset/{token}"),
    ("/accounts/password/reset/key/1-abc123-6f5b9c8d/", "/accounts/password/reset/key/{token}/"),
    ("/api/v2/oauth2/callback", "/api/v2/oauth2/callback"),
    ("/page10/2fa/utf8/x86_64", "/page10/2fa/utf8/x86_64"),
    ("/blog/my-first-post-2024", "/blog/my-first-post-2024"),
    ("/blog/notes-on-python-3-and-the-gil", "/blog/notes-on-python-3-and-the-gil"),
    ("/dl/aBcD-eFgH_iJkLmNoPqRsTuV12", "/dl/{token}"),
])
def test_raw_paths_collapse_into_endpoints(path: str, endpoint: str) -> None:
    assert endpoint_path(path) == endpoint
    assert "S3CR3T" not in mask_segments(path, MASK)


def test_lone_surrogates_become_printable() -> None:
    assert safe_text("nice \ud83d") == "nice \\ud83d"
    assert safe_text("fine \U0001f600") == "fine \U0001f600"
