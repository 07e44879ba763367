"""Property-based (hypothesis): any text, bytes, path or JSON gives a report with no secret.

Random input goes through the real capture (the WSGI middleware, the decorator), masking,
rendering and both notifiers (the report file and a recording one): a report is always
written, every planted secret (by key at any depth, in a URL, in a path segment a route
variable names) is masked, and nothing raises or counts as an internal error.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RecordingNotifier
from tests.secret_corpus import found
from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.wsgi import ROUTE_KEY

_serial = count()
any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # surrogates included
keys = st.one_of(any_text, st.sampled_from(["password", "apiKey", "X-Auth-Token", "pass_word",
                                             "code", "state", "username", "keyword"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20)
segments = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12).map(
    lambda s: s.replace("/", "_"))
SENSITIVE_KEYS = ["password", "apiKey", "X-Auth-Token", "pass_word", "PASS-WORD",
                  "p\u0430ssword", "client_secret", "sessionId"]


def _plant(value: Any, path: list[int], key: str, secret: str) -> Any:
    """``value`` with ``{key: secret}`` placed at a depth chosen by ``path``."""
    if not path:
        return {key: secret, "data": value}
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and value:
        name = sorted(value, key=str)[head % len(value)]
        return {**value, name: _plant(value[name], rest, key, secret)}
    if isinstance(value, list) and value:
        index = head % len(value)
        return [*value[:index], _plant(value[index], rest, key, secret), *value[index + 1:]]
    return {key: secret, "data": value}


def _monitor(directory: str) -> tuple[PerformanceMonitor, RecordingNotifier]:
    monitor = PerformanceMonitor(Config(threshold_seconds=0, alert_window_days=0,
                                        local_output_dir=directory, alert_store_url="memory://",
                                        notify_retries=0))
    recorder = RecordingNotifier()
    monitor.add_notifier(recorder)
    return monitor, recorder


def _outputs(recorder: RecordingNotifier, directory: Path) -> list[str]:
    texts = []
    for alert in recorder.alerts:
        texts += [alert.html, alert.message, alert.title, alert.filename]
    for path in directory.glob("*"):
        texts += [path.name, path.read_text("utf-8")]  # strict: every report is valid UTF-8
    return texts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_values, depth=st.lists(st.integers(0, 10), max_size=4),
       key=st.sampled_from(SENSITIVE_KEYS), path=st.lists(segments, max_size=4),
       header=any_text, raw=st.binary(max_size=200), as_json=st.booleans(),
       query=st.lists(st.tuples(any_text, any_text), max_size=3))
def test_any_request_gives_a_report_without_the_planted_secrets(
        body: Any, depth: list[int], key: str, path: list[str], header: str, raw: bytes,
        as_json: bool, query: list[tuple[str, str]]) -> None:
    n = next(_serial)
    secrets = {"key": f"Kq7{n}SECRETz", "url": f"Uq7{n}SECRETz", "route": f"Rq7{n}SECRETz"}
    document = _plant(body, depth, key, secrets["key"])
    document = {"doc": document, "next": f"https://x.example/cb?token={secrets['url']}&a=1"}
    payload = json.dumps(document).encode() if as_json else raw
    raw_path = "/" + "/".join(path) + f"/reset/{secrets['route']}"
    environ_path = raw_path.encode("utf-8").decode("latin-1")
    directory = tempfile.mkdtemp(prefix="wpm-prop-")
    monitor, recorder = _monitor(directory)
    try:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            environ["wsgi.input"].read(len(payload))
            environ[ROUTE_KEY] = "/".join(["", *path, "reset", "<token>"])  # what an adapter says
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]

        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": environ_path, "SCRIPT_NAME": "",
            "QUERY_STRING": urlencode(query, errors="surrogatepass"),
            "CONTENT_TYPE": "application/json" if as_json else "application/octet-stream",
            "CONTENT_LENGTH": str(len(payload)), "wsgi.input": io.BytesIO(payload),
            "HTTP_X_NOTE": header.encode("utf-8", "surrogatepass").decode("latin-1"),
            "REMOTE_ADDR": "127.0.0.1",
        }
        assert b"".join(monitor.create_middleware()(app)(environ, lambda *a: None)) == b"ok"
        assert monitor.flush(10)
        texts = _outputs(recorder, Path(directory))
        assert len(recorder.alerts) == 1
        assert len(list(Path(directory).glob("wpm_*.html"))) == 1
        assert found(secrets.values(), texts) == []
        assert monitor.get_stats()["internal_errors"] == {}
    finally:
        monitor.close(timeout=5, final=True)
        shutil.rmtree(directory, ignore_errors=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=st.lists(json_values, max_size=3), depth=st.lists(st.integers(0, 10), max_size=4),
       key=st.sampled_from(SENSITIVE_KEYS))
def test_any_function_arguments_give_a_report_without_the_planted_secrets(
        args: list[Any], depth: list[int], key: str) -> None:
    secret = f"Aq7{next(_serial)}SECRETz"
    directory = tempfile.mkdtemp(prefix="wpm-prop-")
    monitor, recorder = _monitor(directory)
    try:
        @monitor.create_decorator(name="task")
        def task(*args: Any, **kwargs: Any) -> None:
            """Takes anything."""

        task(*args, _plant(args, depth, key, secret), dsn=f"postgresql://u:{secret}@db/x")
        assert monitor.flush(10)
        assert len(recorder.alerts) == 1
        assert found([secret], _outputs(recorder, Path(directory))) == []
        assert monitor.get_stats()["internal_errors"] == {}
    finally:
        monitor.close(timeout=5, final=True)
        shutil.rmtree(directory, ignore_errors=True)
