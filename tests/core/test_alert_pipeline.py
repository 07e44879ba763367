"""The alert pipeline under load and faults: rate limits after de-duplication, counters that add
up, notifiers that never hold each other back, bounded memory, threads that end with their
monitor (issue 14)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyinstrument.session import Session
from werkzeug.test import Client

from tests.conftest import RecordingNotifier, path_name, random_name, report_endpoint
from tests.mattermost_server import CHANNEL, TOKEN, FakeMattermost
from web_performance_monitor import Config, ConfigError, PerformanceMonitor
from web_performance_monitor.events import Alert
from web_performance_monitor.notifiers import Notifier
from web_performance_monitor.notifiers.channel import Channel
from web_performance_monitor.notifiers.mattermost import DEFAULT_RETRY_AFTER, retry_after
from web_performance_monitor.profiling import ProfileResult
from web_performance_monitor.profiling.sampler import SamplingProfiler
from web_performance_monitor.sizing import profile_bytes, shrink_profile
from web_performance_monitor.store import AlertStore, MemoryStore, RedisStore, SQLiteStore


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def get(monitor: PerformanceMonitor, *paths: str) -> None:
    """One request per path; with ``threshold_seconds=0`` every one is slow."""
    client = Client(monitor.create_middleware()(hello))
    for path in paths:
        assert client.get(path).data == b"hello"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def chat(server: FakeMattermost, **overrides: Any) -> dict[str, Any]:
    """Config values for the fake Mattermost server."""
    return {"enable_mattermost": True, "mattermost_server_url": server.url,
            "mattermost_token": TOKEN, "mattermost_channel_id": CHANNEL,
            "mattermost_timeout_seconds": 1.0, **overrides}


# --- rate limit after de-duplication, and counts that are never lost ---------------------

@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/alerts.sqlite3"
    redis_url: str = request.getfixturevalue("redis_url")
    return redis_url


def test_repeats_do_not_use_up_the_rate_limit(make_monitor: Callable[..., PerformanceMonitor],
                                              recorder: RecordingNotifier,
                                              store_url: str) -> None:
    """Issue 14, row 1: 31 slow GET /a within a minute, then 1 slow GET /b: /b is alerted."""
    monitor = make_monitor(threshold_seconds=0, alert_store_url=store_url,
                           enable_local_file=False)
    monitor.add_notifier(recorder)
    endpoint_a = f"/a-{random_name()}"  # the Redis server is shared by the session
    endpoint_b = f"/b-{random_name()}"
    get(monitor, *[endpoint_a] * 31, endpoint_b)
    assert monitor.flush(10)
    assert [alert.event.endpoint for alert in recorder.alerts] == [f"GET {endpoint_a}",
                                                                    f"GET {endpoint_b}"]
    stats = monitor.get_stats()
    assert (stats["alerts_sent"], stats["alerts_suppressed"], stats["alerts_rate_limited"]) == (
        2, 30, 0)


def test_a_rate_limited_alert_keeps_its_count(make_monitor: Callable[..., PerformanceMonitor],
                                              recorder: RecordingNotifier,
                                              tmp_path: Path) -> None:
    """The endpoint held back by the cap alerts later, saying how many requests went unalerted."""
    monitor = make_monitor(threshold_seconds=0, max_alerts_per_minute=1, enable_local_file=False,
                           alert_store_url=f"sqlite:///{tmp_path}/alerts.sqlite3")
    monitor.add_notifier(recorder)
    for path in ("/a", "/b", "/b"):  # one at a time: a waiting repeat would be folded
        get(monitor, path)
        assert monitor.flush(10)
    stats = monitor.get_stats()
    assert (stats["alerts_sent"], stats["alerts_rate_limited"]) == (1, 2)
    assert stats["alerts_suppressed"] == 0
    monitor.update_config(max_alerts_per_minute=0)  # the same SQLite file, the cap lifted
    get(monitor, "/b")
    assert monitor.flush(10)
    alert_b = recorder.alerts[-1]
    assert (alert_b.event.endpoint, alert_b.suppressed_before) == ("GET /b", 2)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_a_count_without_a_row_is_kept(kind: str, tmp_path: Path,
                                       request: pytest.FixtureRequest) -> None:
    """``suppress`` for an endpoint the store has never seen (its claim went to the fallback
    store during an outage): the next claim reports it. On SQLite an UPDATE matched no row."""
    store: AlertStore
    if kind == "memory":
        store = MemoryStore()
    elif kind == "sqlite":
        store = SQLiteStore(str(tmp_path / "alerts.sqlite3"))
    else:
        store = RedisStore(request.getfixturevalue("redis_url"), prefix=os.urandom(4).hex())
    try:
        store.suppress("GET /never-claimed")
        store.suppress("GET /never-claimed", 3)  # repeats folded into one queued event
        claim = store.claim("GET /never-claimed", 60)
        assert claim is not None and claim.suppressed_before == 4
    finally:
        store.close()


@pytest.mark.parametrize("cap, alerted, held_back", [(30, 30, 1), (0, 31, 0)])
def test_window_zero_alerts_every_slow_request_up_to_the_cap(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        cap: int, alerted: int, held_back: int) -> None:
    """``alert_window_days=0`` means every slow request; the cap is an option with its own
    counter, not a hidden constant counted as de-duplication."""
    monitor = make_monitor(threshold_seconds=0, alert_window_days=0, enable_local_file=False,
                           max_alerts_per_minute=cap)
    monitor.add_notifier(recorder)
    get(monitor, *[f"/storm/{path_name(i)}" for i in range(31)])
    assert monitor.flush(10)
    assert len(recorder.alerts) == alerted
    stats = monitor.get_stats()
    assert (stats["alerts_sent"], stats["alerts_rate_limited"], stats["alerts_suppressed"]) == (
        alerted, held_back, 0)


def test_the_cap_is_a_validated_option() -> None:
    assert Config().max_alerts_per_minute == 30
    assert Config.from_env({"WPM_MAX_ALERTS_PER_MINUTE": "0"}).max_alerts_per_minute == 0
    with pytest.raises(ConfigError) as error:
        Config.from_env({"WPM_MAX_ALERTS_PER_MINUTE": "-1"})
    assert error.value.key == "WPM_MAX_ALERTS_PER_MINUTE"
    for name in ("notify_queue_bytes", "max_profile_bytes"):
        with pytest.raises(ConfigError):
            Config(**{name: 0})


class StuckLocalNotifier(Notifier):
    """A local notifier that blocks the alert worker until released."""

    name = "stuck_local"
    local = True

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, alert: Alert) -> None:
        self.entered.set()
        assert self.release.wait(30)


def test_a_dropped_event_is_counted_once(make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monitor = make_monitor(threshold_seconds=0, alert_window_days=0, enable_local_file=False,
                           notify_queue_size=1)
    stuck = StuckLocalNotifier()
    monitor.add_notifier(stuck)
    get(monitor, "/one")
    assert stuck.entered.wait(10)
    get(monitor, "/two", "/three", "/four")  # one waits in the queue, two are dropped
    stuck.release.set()
    assert monitor.flush(10)
    stats = monitor.get_stats()
    assert stats["alerts_dropped"] == 2
    assert stats["internal_errors"] == {}
    assert stats["alerts_sent"] == 2


def test_repeats_do_not_fill_the_alert_queue(make_monitor: Callable[..., PerformanceMonitor],
                                             recorder: RecordingNotifier) -> None:
    """The same class as row 1, for the queue's places: 300 slow GET /a while the worker is
    busy, then one slow GET /b; the repeats wait as one event, and /b is alerted."""
    monitor = make_monitor(threshold_seconds=0, enable_local_file=False, notify_queue_size=4)
    stuck = StuckLocalNotifier()
    monitor.add_notifier(stuck)
    monitor.add_notifier(recorder)
    get(monitor, "/first")
    assert stuck.entered.wait(10)
    get(monitor, *["/a"] * 300, "/b")
    stuck.release.set()
    assert monitor.flush(10)
    assert [alert.event.endpoint for alert in recorder.alerts] == ["GET /first", "GET /a",
                                                                    "GET /b"]
    stats = monitor.get_stats()
    assert (stats["alerts_sent"], stats["alerts_suppressed"], stats["alerts_dropped"]) == (
        3, 299, 0)
    assert stats["slow_requests"] == 302


# --- notifiers isolated from each other -------------------------------------------------------

class BlockingNotifier(Notifier):
    """A network notifier whose server never answers (until released)."""

    name = "blocking"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.first: Alert | None = None

    def send(self, alert: Alert) -> None:
        self.first = self.first or alert
        self.entered.set()
        self.release.wait(30)


def test_a_stuck_channel_never_holds_another_back(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier,
        report_dir: Path) -> None:
    monitor = make_monitor(threshold_seconds=0, alert_window_days=0)
    blocking = BlockingNotifier()
    monitor.add_notifier(blocking)
    monitor.add_notifier(recorder)
    get(monitor, *[f"/e/{path_name(i)}" for i in range(5)])
    assert blocking.entered.wait(10)
    assert wait_until(lambda: len(recorder.alerts) == 5)
    assert len(list(report_dir.glob("wpm_*.html"))) == 5
    blocking.release.set()
    assert monitor.flush(10)


def test_an_alert_no_channel_could_take_is_failed_and_alerts_again(
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    """A channel's full queue drops an alert: with no local report it counts as failed, and
    its window is given back, so the endpoint's next slow request alerts (nothing is lost)."""
    monitor = make_monitor(threshold_seconds=0, enable_local_file=False, notify_queue_size=1)
    blocking = BlockingNotifier()
    monitor.add_notifier(blocking)
    get(monitor, "/one")
    assert blocking.entered.wait(10)
    get(monitor, "/two")  # waits in the channel's queue
    assert wait_until(lambda: monitor.get_stats()["notifiers"]["blocking"]["queued"] == 1)
    get(monitor, "/three")  # dropped by the channel
    assert wait_until(lambda: monitor.get_stats()["alerts_failed"] == 1)
    blocking.release.set()
    assert monitor.flush(10)
    get(monitor, "/three")  # its window was released: it alerts now
    assert monitor.flush(10)
    stats = monitor.get_stats()
    assert (stats["alerts_sent"], stats["alerts_failed"]) == (3, 1)
    assert stats["notifiers"]["blocking"]["dropped"] == 1


def test_retry_after_header_forms() -> None:
    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2026 07:28:00 GMT",
                       now=1792567680.0 - 30) == pytest.approx(30.0)
    assert retry_after(None) == retry_after("soon") == DEFAULT_RETRY_AFTER


_EXIT_SCRIPT = """
import atexit, json

def report():  # registered before the monitor is imported: runs after its exit handler
    stats = monitor.get_stats()
    print(json.dumps({key: stats[key] for key in
                      ("alerts_sent", "alerts_failed", "alerts_dropped", "notifiers")}))

atexit.register(report)

from web_performance_monitor import Config, PerformanceMonitor

monitor = PerformanceMonitor(Config.from_env())
for i in range(30):
    monitor.create_decorator(name=f"endpoint-{i}", threshold_seconds=0)(lambda: None)()
"""


def test_a_hanging_chat_server_never_costs_a_local_report(mattermost: FakeMattermost,
                                                          report_dir: Path) -> None:
    """Issue 14, row 2: Mattermost accepts the connection and never answers; 30 slow endpoints;
    normal exit: 30 local reports, and what the chat never got is counted."""
    mattermost.mode = "hang"
    env = {**os.environ, "WPM_LOCAL_OUTPUT_DIR": str(report_dir),
           "WPM_ALERT_STORE_URL": "memory://", "WPM_ENABLE_MATTERMOST": "true",
           "WPM_MATTERMOST_SERVER_URL": mattermost.url, "WPM_MATTERMOST_TOKEN": TOKEN,
           "WPM_MATTERMOST_CHANNEL_ID": CHANNEL, "WPM_MATTERMOST_TIMEOUT_SECONDS": "2"}
    done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(list(report_dir.glob("wpm_*.html"))) == 30
    stats = json.loads(done.stdout)
    assert (stats["alerts_sent"], stats["alerts_failed"], stats["alerts_dropped"]) == (30, 0, 0)
    chat_state = stats["notifiers"]["mattermost"]
    assert chat_state["sent"] == 0 and chat_state["failed"] + chat_state["dropped"] == 30
    assert chat_state["dropped"] >= 28  # all but what failed every try before the exit
    assert mattermost.posts == []


def test_retry_after_is_honoured(make_monitor: Callable[..., PerformanceMonitor],
                                 mattermost: FakeMattermost) -> None:
    """A 429 with ``Retry-After: 1``: nothing reaches the server for that second."""
    mattermost.script.append("429")
    mattermost.retry_after = "1"
    monitor = make_monitor(threshold_seconds=0, enable_local_file=False, notify_retries=2,
                           **chat(mattermost))
    get(monitor, "/one", "/two", "/three")
    assert monitor.flush(20)
    assert len(mattermost.posts) == 3
    (refused_at, _), (next_at, _) = mattermost.requests[:2]
    assert next_at - refused_at >= 1.0
    stats = monitor.get_stats()
    assert stats["notifier_failures"] == {"mattermost": 1}
    assert stats["alerts_sent"] == 3


def test_close_gives_up_on_a_long_retry_after_and_counts_it(
        make_monitor: Callable[..., PerformanceMonitor], mattermost: FakeMattermost) -> None:
    mattermost.mode = "429"
    mattermost.retry_after = "600"
    monitor = make_monitor(threshold_seconds=0, enable_local_file=False, notify_retries=1,
                           **chat(mattermost))
    get(monitor, "/x")
    assert wait_until(lambda: len(mattermost.requests) == 1)
    monitor.close(timeout=0.5)  # the server asked for ten minutes: not waited for
    stats = monitor.get_stats()
    assert stats["notifiers"]["mattermost"]["dropped"] == 1
    assert (stats["alerts_sent"], stats["alerts_failed"]) == (0, 1)
    assert len(mattermost.requests) == 1


def test_a_failing_channel_trips_its_breaker_once_then_probes(
        make_monitor: Callable[..., PerformanceMonitor], mattermost: FakeMattermost,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Channel, "cooldown", 0.5)
    mattermost.mode = "500"
    monitor = make_monitor(threshold_seconds=0, **chat(mattermost))
    get(monitor, "/one", "/two", "/three")
    assert monitor.flush(10)
    state = monitor.get_stats()["notifiers"]["mattermost"]
    assert (state["breaker_open"], state["breaker_trips"]) == (True, 1)
    mattermost.mode = "ok"
    get(monitor, "/four")
    assert monitor.flush(10)  # the probe, after the cooldown
    assert [post["message"].split("`")[1] for post in mattermost.posts] == ["GET /four"]
    stats = monitor.get_stats()
    assert stats["notifiers"]["mattermost"]["breaker_open"] is False
    assert stats["notifier_failures"] == {"mattermost": 3}
    assert stats["alerts_sent"] == 4  # the local reports went out all along
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len([m for m in warnings if "mattermost is failing" in m]) == 1
    assert len([r for r in caplog.records if "mattermost works again" in r.getMessage()]) == 1
    # mattermostdriver's own ERROR line per failed call is quieted to our DEBUG
    assert [r for r in caplog.records if r.name.startswith("mattermostdriver")] == []


# --- memory bounded in bytes -----------------------------------------------------------------

def deep_profile(samples: int, depth: int) -> ProfileResult:
    """What the sampler hands over for a long request ``depth`` frames deep: one list per
    sample, the identifier strings shared."""
    stack = [f"frame_{i}\x00/app/deep.py\x00{i}" for i in range(depth)]
    records = [(list(stack), 0.005) for _ in range(samples)]
    return ProfileResult(session=Session(
        frame_records=records, start_time=time.time(), duration=samples * 0.005,
        min_interval=0.005, max_interval=0.005, sample_count=samples,
        start_call_stack=["[request]\x00<web_performance_monitor>\x000"],
        target_description="synthetic deep stacks", cpu_time=0.0, sys_path=sys.path,
        sys_prefixes=Session.current_sys_prefixes()))


@pytest.fixture
def deep_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every slow request's profile: 1,000 samples of a 300-deep stack (about 2.5 MB), what a
    5 s request 300 frames deep gives; synthetic, so the test takes seconds, not minutes."""
    real_end = SamplingProfiler.end

    def end(self: SamplingProfiler, run: Any, keep: bool) -> ProfileResult | None:
        result = real_end(self, run, keep)
        return deep_profile(1000, 300) if keep else result

    monkeypatch.setattr(SamplingProfiler, "end", end)


def rss_bytes() -> int:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_profile_over_budget_is_merged_keeping_its_time() -> None:
    profile = deep_profile(1000, 300)
    assert profile.session is not None
    records = profile.session.frame_records
    before = (records[0], sum(weight for _, weight in records))
    shrink_profile(profile, 256 * 1024)
    merged = profile.session.frame_records
    assert profile_bytes(profile) <= 256 * 1024 < profile_bytes(deep_profile(1000, 300))
    assert (merged[0], sum(weight for _, weight in merged)) == (
        before[0], pytest.approx(before[1]))
    assert profile.session.sample_count == len(merged) < 1000
    assert profile.note == f"1,000 samples merged into {len(merged)} to fit max_profile_bytes " \
                           "(262,144 bytes)"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS read from /proc")
@pytest.mark.usefixtures("deep_stacks")
def test_a_stuck_channel_keeps_memory_bounded(make_monitor: Callable[..., PerformanceMonitor],
                                              report_dir: Path) -> None:
    """Issue 14, row 3 (chat server stuck, slow requests with 300-deep stacks): once 422 MB;
    here 100 such requests, each profile merged to 256 KB, 2 MB waiting for the channel."""
    monitor = make_monitor(threshold_seconds=0, alert_window_days=0, max_alerts_per_minute=0,
                           max_profile_bytes=256 * 1024, notify_queue_bytes=2 * 1024 * 1024)
    blocking = BlockingNotifier()
    monitor.add_notifier(blocking)
    before = rss_bytes()
    get(monitor, *[f"/deep/{path_name(i)}" for i in range(100)])

    def reported() -> int:  # the alert queue (2 MB too) may drop some of the burst, counted
        return len(list(report_dir.glob("wpm_*.html")))

    assert wait_until(lambda: reported() + monitor.get_stats()["alerts_dropped"] == 100, 60)
    grown = rss_bytes() - before
    state = monitor.get_stats()["notifiers"]["blocking"]
    assert state["queued_bytes"] <= 2 * 1024 * 1024
    assert state["dropped"] == reported() - 1 - state["queued"]  # one is being sent
    assert grown < 64 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MB"
    assert blocking.first is not None
    profile = blocking.first.event.profile
    assert profile_bytes(profile) <= 256 * 1024
    assert profile is not None and "merged" in (profile.note or "")
    blocking.release.set()


# --- threads that end with their monitor -------------------------------------------------------

def test_a_dropped_monitor_is_freed_and_its_threads_end(report_dir: Path) -> None:
    """The alert worker and channel threads hold the monitor weakly: a monitor that alerted and
    is then dropped (an app factory's, a test's) is freed, and its threads end."""
    before = set(threading.enumerate())
    monitor = PerformanceMonitor(Config(threshold_seconds=0, local_output_dir=str(report_dir),
                                        alert_store_url="memory://"))
    recorder = RecordingNotifier()
    monitor.add_notifier(recorder)
    get(monitor, "/x")
    assert monitor.flush(10)
    assert len(recorder.alerts) == 1 and len(list(report_dir.glob("wpm_*.html"))) == 1
    started = set(threading.enumerate()) - before
    assert {thread.name for thread in started} >= {"wpm-alerts", "wpm-recording"}
    freed = weakref.ref(monitor)
    del monitor
    gc.collect()
    assert freed() is None
    for thread in started:
        thread.join(10)
    assert [thread.name for thread in started if thread.is_alive()] == []


def test_reconfiguring_ends_the_old_channel_threads(
        make_monitor: Callable[..., PerformanceMonitor], recorder: RecordingNotifier) -> None:
    monitor = make_monitor(threshold_seconds=0)
    monitor.add_notifier(recorder)
    before = set(threading.enumerate())
    get(monitor, "/x")
    assert monitor.flush(10)
    old = [thread for thread in set(threading.enumerate()) - before
           if thread.name == "wpm-recording"]
    monitor.update_config(threshold_seconds=0.0, alert_window_days=0)
    for thread in old:
        thread.join(10)
    assert old and not any(thread.is_alive() for thread in old)
    get(monitor, "/x")  # the notifier added before is kept, on a new channel
    assert monitor.flush(10)
    assert len(recorder.alerts) == 2


# --- all of it at once -----------------------------------------------------------------------

def half_slow(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    if environ.get("QUERY_STRING") == "slow=1":
        time.sleep(0.1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_under_chaos_each_endpoint_alerts_once_and_counts_add_up(
        make_monitor: Callable[..., PerformanceMonitor], mattermost: FakeMattermost,
        report_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14's soak, scaled down: 2,000 requests on 8 threads, 5% slow across 50 endpoints,
    the chat server switching between hanging, 500, 429 and working every 0.3 s."""
    monkeypatch.setattr(Channel, "cooldown", 0.5)
    monkeypatch.setattr(Channel, "max_cooldown", 1.0)
    mattermost.retry_after = "1"
    monitor = make_monitor(alert_store_url=f"sqlite:///{tmp_path}/alerts.sqlite3",
                           max_alerts_per_minute=0, notify_retries=1,
                           **chat(mattermost, mattermost_timeout_seconds=0.5))
    stop = threading.Event()

    def chaos() -> None:
        modes = ["hang", "500", "429", "ok"]
        turn = 0
        while not stop.wait(0.3):
            mattermost.mode = modes[turn % len(modes)]
            turn += 1
        mattermost.mode = "ok"

    def requests(first: int) -> None:
        client = Client(monitor.create_middleware()(half_slow))
        for k in range(first, 2000, 8):
            slow = k % 20 == 0  # 100 slow requests, two per endpoint
            endpoint = (k // 20) % 50 if slow else k % 50
            client.get(f"/e{endpoint}", query_string="slow=1" if slow else "")

    switcher = threading.Thread(target=chaos)
    switcher.start()
    clients = [threading.Thread(target=requests, args=(i,)) for i in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(60)
    stop.set()
    switcher.join()
    assert monitor.flush(30)

    reported = sorted(report_endpoint(path.name) for path in report_dir.glob("wpm_*.html"))
    assert reported == sorted(f"GET-e{n}" for n in range(50))  # each exactly once
    stats = monitor.get_stats()
    assert stats["alerts_sent"] == 50 and stats["alerts_failed"] == 0
    outcomes = ("alerts_sent", "alerts_suppressed", "alerts_rate_limited", "alerts_failed",
                "alerts_dropped")
    assert sum(stats[key] for key in outcomes) == stats["slow_requests"] >= 100
    chat_state = stats["notifiers"]["mattermost"]
    assert chat_state["sent"] + chat_state["failed"] + chat_state["dropped"] == 50
    assert chat_state["queued"] == 0
    # the message's second line names the endpoint (the first says why it was slow)
    posted = [post["message"].splitlines()[1].split("`")[1] for post in mattermost.posts]
    assert len(posted) == len(set(posted)) == chat_state["sent"]
