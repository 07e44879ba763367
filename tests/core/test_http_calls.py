"""Outgoing HTTP calls of a monitored request or call land in its slow event: requests, urllib3,
http.client, httpx (sync and async) and aiohttp against a slow service on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.client
import inspect
import json
import linecache
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
import requests
import urllib3
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import RecordingNotifier, free_port
from tests.servers import ROOT, subprocess_env
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.asgi import PerformanceMiddleware
from web_performance_monitor.capture import Call, context, http_calls, http_httpx, http_patch
from web_performance_monitor.events import SlowEvent

Answer = tuple[int, str]  # what the application got: status and body


def with_requests(url: str) -> Answer:
    response = requests.get(url, timeout=5)
    return response.status_code, response.text


def with_urllib3(url: str) -> Answer:
    response = urllib3.request("GET", url, retries=False, timeout=5)
    return response.status, response.data.decode()


def with_http_client(url: str) -> Answer:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def with_urlopen(url: str) -> Answer:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:  # urlopen raises on 4xx and 5xx
        with error:
            return error.code, error.read().decode()


def with_httpx(url: str) -> Answer:
    response = httpx.get(url, timeout=5)
    return response.status_code, response.text


async def with_httpx_async(url: str) -> Answer:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(url)
    return response.status_code, response.text


async def with_aiohttp(url: str) -> Answer:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return response.status, await response.text()


# client -> (the library recorded, the text of the line that makes the call, the error the
# monitor records when nothing listens: the one the library meets where it is hooked)
CLIENTS: dict[str, tuple[Callable[[str], Any], str, str, str]] = {
    "requests": (with_requests, "requests", "requests.get(", "NewConnectionError"),
    "urllib3": (with_urllib3, "urllib3", "urllib3.request(", "NewConnectionError"),
    "http.client": (with_http_client, "http.client", "conn.request(", "ConnectionRefusedError"),
    "urllib.request": (with_urlopen, "urllib.request", "urlopen(", "ConnectionRefusedError"),
    "httpx": (with_httpx, "httpx", "httpx.get(", "ConnectError"),
    "httpx async": (with_httpx_async, "httpx", "client.get(", "ConnectError"),
    "aiohttp": (with_aiohttp, "aiohttp", "session.get(", "ClientConnectorError"),
}


def call(job: Callable[..., Any], *args: Any) -> Any:
    """Run a sync or async function to its result (an event loop of its own for async)."""
    if inspect.iscoroutinefunction(job):
        return asyncio.run(job(*args))
    return job(*args)


def outcome(job: Callable[..., Any], *args: Any) -> Any:
    """What ``job`` returned, or the exception it raised."""
    try:
        return call(job, *args)
    except Exception as exc:
        return exc


class Run:
    """``run(job, *args)``: ``job`` as one monitored call, always slow (threshold 0): what it
    returned or raised, and its slow event."""

    def __init__(self, monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
        self.monitor, self.recorder = monitor, recorder

    def __call__(self, job: Callable[..., Any], *args: Any) -> tuple[Any, SlowEvent]:
        before = len(self.recorder.alerts)
        result = outcome(self.monitor.create_decorator(job), *args)
        assert self.monitor.flush()
        [alert] = self.recorder.alerts[before:]
        return result, alert.event


@pytest.fixture
def run(make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier) -> Run:
    """A monitor made before the test's first call, each call of it slow, as ``Run``."""
    monitor = make_monitor(threshold_seconds=0, alert_window_days=0)
    monitor.add_notifier(recorder)
    return Run(monitor, recorder)


def calls_of(event: SlowEvent) -> list[Call]:
    assert event.captured is not None
    return event.captured.calls


@pytest.mark.parametrize("name", CLIENTS)
def test_each_clients_call_is_in_the_slow_event(run: Run, http_target: str, name: str) -> None:
    client, library, line_text, _ = CLIENTS[name]
    url = f"{http_target}/stock?delay=0.05&status=404&item=7"
    result, event = run(client, url)
    assert result == (404, "ok /stock")
    [made] = calls_of(event)
    assert (made.method, made.url, made.status, made.library, made.error) == (
        "GET", url, 404, library, None)
    assert made.duration >= 0.05 and event.origin <= made.start
    assert made.start + made.duration <= event.origin + event.duration
    assert made.site is not None
    filename, function, line = made.site
    assert (filename, function) == (__file__, client.__qualname__)
    assert line_text in linecache.getline(filename, line)


@pytest.mark.parametrize("name", ["requests", "urllib3", "httpx", "httpx async", "aiohttp"])
def test_credentials_in_a_url_are_never_kept(run: Run, http_target: str, name: str) -> None:
    """``http://user:password@host/``: the call is recorded without them (the clients that
    take credentials from the URL; http.client and urllib.request do not)."""
    client = CLIENTS[name][0]
    with_credentials = http_target.replace("://", "://ann:URL-PASSWORD@")
    result, event = run(client, f"{with_credentials}/private?page=2")
    assert result == (200, "ok /private")
    [made] = calls_of(event)
    assert made.url == f"{http_target}/private?page=2"


@pytest.mark.parametrize("name", CLIENTS)
def test_a_refused_connection_is_recorded_and_raised_unchanged(run: Run, name: str) -> None:
    client, library, _, recorded = CLIENTS[name]
    url = f"http://127.0.0.1:{free_port()}/down?x=1"  # nothing listens there
    unmonitored = outcome(client, url)
    assert isinstance(unmonitored, Exception)
    raised, event = run(client, url)
    assert type(raised) is type(unmonitored)
    [made] = calls_of(event)
    assert (made.url, made.status, made.error, made.library) == (url, None, recorded, library)


def test_each_call_of_a_request_is_kept_in_order(run: Run, http_target: str) -> None:
    def checkout() -> None:
        for step in ("cart", "price", "pay"):
            requests.post(f"{http_target}/{step}", data=b"{}", timeout=5)

    _, event = run(checkout)
    assert [(made.method, urlsplit(made.url).path) for made in calls_of(event)] == [
        ("POST", "/cart"), ("POST", "/price"), ("POST", "/pay")]


def test_calls_beyond_the_per_request_limit_are_counted_not_kept(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        http_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit is the process's (the last monitor configured sets it): restored afterwards.
    monkeypatch.setitem(context.limits, "max_records", context.limits["max_records"])
    monitor = make_monitor(threshold_seconds=0, max_queries_per_request=2)
    monitor.add_notifier(recorder)
    _, event = Run(monitor, recorder)(lambda: [with_httpx(f"{http_target}/{n}") for n in "abc"])
    assert event.captured is not None
    assert [urlsplit(made.url).path for made in event.captured.calls] == ["/a", "/b"]
    assert event.captured.calls_dropped == 1 and event.captured.calls_dropped_seconds > 0


def test_calls_outside_monitored_requests_are_not_captured(run: Run, http_target: str) -> None:
    _, earlier = run(with_requests, f"{http_target}/inside")
    for client, *_ in CLIENTS.values():
        assert call(client, f"{http_target}/outside") == (200, "ok /outside")
    assert context.current() is None
    assert [urlsplit(made.url).path for made in calls_of(earlier)] == ["/inside"]
    _, later = run(time.sleep, 0.001)
    assert later.captured is None


def test_calls_from_child_tasks_and_threads_are_the_requests_own(run: Run,
                                                                http_target: str) -> None:
    async def handler() -> None:
        task = asyncio.create_task(with_aiohttp(f"{http_target}/task"))
        await asyncio.gather(task, asyncio.to_thread(with_requests, f"{http_target}/thread"),
                             with_httpx_async(f"{http_target}/awaited"))

    _, event = run(handler)
    assert sorted((urlsplit(made.url).path, made.library) for made in calls_of(event)) == [
        ("/awaited", "httpx"), ("/task", "aiohttp"), ("/thread", "requests")]


def test_concurrent_requests_each_keep_their_own_calls(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        http_target: str) -> None:
    monitor = make_monitor(threshold_seconds=0, alert_window_days=0)
    monitor.add_notifier(recorder)

    def endpoint(name: str) -> Callable[[], Any]:
        async def handler() -> None:
            for _ in range(3):
                await with_httpx_async(f"{http_target}/{name}?delay=0.01")

        return monitor.create_decorator(name=name)(handler)

    async def both() -> None:
        await asyncio.gather(endpoint("a")(), endpoint("b")())

    asyncio.run(both())
    assert monitor.flush()
    paths = {alert.event.endpoint: {urlsplit(made.url).path for made in calls_of(alert.event)}
             for alert in recorder.alerts}
    assert paths == {"a": {"/a"}, "b": {"/b"}}
    assert all(len(calls_of(alert.event)) == 3 for alert in recorder.alerts)


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("monitor bug")


# Faults inside the hooks: finding the request's record, the application's line, recording.
HOOK_FAULTS = {
    "current": (http_patch, "current"),
    "app_site": (http_patch, "app_site"),
    "add_call": (context.Captured, "add_call"),
}


@pytest.mark.parametrize("fault", HOOK_FAULTS)
@pytest.mark.parametrize("name", CLIENTS)
def test_a_fault_in_the_hook_never_changes_the_call(run: Run, http_target: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture,
                                                   name: str, fault: str) -> None:
    client = CLIENTS[name][0]
    url = f"{http_target}/fault?token=URL-SECRET-1&status=201"
    refused = f"http://127.0.0.1:{free_port()}/down?token=URL-SECRET-2"
    expected_error = type(outcome(client, refused))
    run.monitor.reset_stats()
    monkeypatch.setattr(*HOOK_FAULTS[fault], _raise)
    result, event = run(client, url)
    assert result == (201, "ok /fault")
    assert type(run(client, refused)[0]) is expected_error
    assert event.captured is None or event.captured.calls == []
    assert run.monitor.get_stats()["internal_errors"][http_patch.WHAT] == 2
    assert "URL-SECRET" not in caplog.text


def test_a_library_whose_hooks_fail_leaves_the_others_hooked(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A version of httpx whose names moved: requests and aiohttp are still seen, and the log
    says what is not."""
    monkeypatch.setattr(http_httpx, "patches", _raise)
    monkeypatch.setattr(http_calls, "_patches", {})
    http_calls._load_imported()
    patches = [patch for loaded in http_calls._patches.values() for patch in loaded]
    assert {patch.owner for patch in patches} == {http.client.HTTPConnection,
                                                 aiohttp.ClientSession}
    assert "hooking httpx failed: RuntimeError: monitor bug" in caplog.text


IMPORTED_LATER = """
import sys
from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.capture import http_calls, sqlalchemy_events
monitor = PerformanceMonitor(Config(alert_store_url="memory://"))
assert not {"aiohttp", "httpx", "sqlalchemy"} & set(sys.modules), "imported by the monitor"
import httpx, sqlalchemy  # the app imports them after the monitor started
call = monitor.create_decorator(name="tick")(lambda: None)
for _ in range(1000):  # the next overhead check hooks what was imported since
    call()
assert "httpx" in http_calls._patches and sqlalchemy_events._installed
"""


def test_libraries_are_hooked_once_the_app_imports_them_never_imported_by_the_monitor(
        ) -> None:
    """A monitor imports no client or ORM the app does not use (their memory in every worker);
    one the app imports later is hooked at the next overhead check (every 1,000 requests)."""
    done = subprocess.run([sys.executable, "-c", IMPORTED_LATER], cwd=ROOT,
                          env=subprocess_env({}), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_fastapi_requests_calls_are_in_its_slow_event(make_monitor: Callable[..., Any],
                                                         recorder: RecordingNotifier,
                                                         http_target: str) -> None:
    """Through the ASGI middleware and Starlette's TestClient, whose own transport makes no
    network call and is not recorded."""
    monitor = make_monitor()
    monitor.add_notifier(recorder)
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)

    @api.get("/quotes/{symbol}")
    async def quote(symbol: str) -> dict[str, str]:
        async with httpx.AsyncClient() as client:
            price = await client.get(f"{http_target}/price?delay=0.06&symbol={symbol}")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{http_target}/audit", data=symbol) as audit:
                await audit.read()
        return {"price": price.text}

    with TestClient(api) as client:
        assert client.get("/quotes/ACME").json() == {"price": "ok /price"}
    assert monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET /quotes/{symbol}"
    assert [(made.method, made.url, made.status, made.library, made.site and made.site[1])
            for made in calls_of(alert.event)] == [
        ("GET", f"{http_target}/price?delay=0.06&symbol=ACME", 200, "httpx",
         quote.__qualname__),
        ("POST", f"{http_target}/audit", 200, "aiohttp", quote.__qualname__)]


_HOOKS_SCRIPT = """
import atexit, gc, http.client, inspect, json
import aiohttp, httpx

HOOKED = {"http.client.putrequest": (http.client.HTTPConnection, "putrequest"),
          "http.client.endheaders": (http.client.HTTPConnection, "endheaders"),
          "http.client.getresponse": (http.client.HTTPConnection, "getresponse"),
          "httpx.handle_request": (httpx.HTTPTransport, "handle_request"),
          "httpx.handle_async_request": (httpx.AsyncHTTPTransport, "handle_async_request"),
          "aiohttp.ClientSession.__init__": (aiohttp.ClientSession, "__init__")}
ORIGINAL = {name: vars(owner)[attr] for name, (owner, attr) in HOOKED.items()}

def hooked():
    return sorted(name for name, (owner, attr) in HOOKED.items()
                  if vars(owner)[attr] is not ORIGINAL[name])

atexit.register(lambda: print(json.dumps({"after exit": hooked()})))  # runs after the monitor's

from web_performance_monitor import Config, PerformanceMonitor

def make(**options):
    return PerformanceMonitor(Config(alert_store_url="memory://", enable_local_file=False,
                                     **options))

steps = {}
a, b, off = make(), make(), make(capture_http_calls=False)
steps["two monitors capture"] = hooked()
steps["same face"] = sorted(
    name for name, (owner, attr) in HOOKED.items()
    if getattr(vars(owner)[attr], "__wrapped__", None) is ORIGINAL[name]
    and inspect.signature(vars(owner)[attr]) == inspect.signature(ORIGINAL[name])
    and vars(owner)[attr].__name__ == ORIGINAL[name].__name__
    and inspect.iscoroutinefunction(vars(owner)[attr])
        == inspect.iscoroutinefunction(ORIGINAL[name]))
a.close(final=True)
steps["one closed"] = hooked()
b.update_config(capture_http_calls=False)
steps["the last turned off"] = hooked()
b.update_config(capture_http_calls=True)
b.close()
steps["closed, not final"] = hooked()
b.close(final=True)
steps["the last closed"] = hooked()
dropped = make()
del dropped
gc.collect()
steps["the last dropped unclosed"] = hooked()
left_open = make()
steps["one left open"] = hooked()
print(json.dumps(steps))
"""


def test_hooks_are_installed_with_the_first_monitor_and_undone_with_the_last() -> None:
    done = subprocess.run([sys.executable, "-c", _HOOKS_SCRIPT], capture_output=True,
                          text=True, timeout=60, env={**os.environ})
    assert done.returncode == 0, done.stderr
    steps, at_exit = (json.loads(line) for line in done.stdout.splitlines())
    every = sorted(steps["same face"])
    assert len(every) == 6
    assert steps == {"two monitors capture": every, "same face": every, "one closed": every,
                     "the last turned off": [], "closed, not final": every,
                     "the last closed": [], "the last dropped unclosed": [],
                     "one left open": every}
    assert at_exit == {"after exit": []}
