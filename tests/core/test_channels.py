"""The webhook channels against local servers that answer like each platform (chat_servers)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client

from flask_wpm import WPM
from tests.chat_servers import (
    DINGTALK_SECRET,
    DINGTALK_TOKEN,
    FEISHU_HOOK,
    FEISHU_SECRET,
    MATTERMOST_HOOK,
    RECEIVER_SECRET,
    SLACK_PATH,
    WECOM_KEY,
    FakeChat,
    FakeDingTalk,
    FakeFeishu,
    FakeMattermostHooks,
    FakeReceiver,
    FakeSlack,
    FakeWeCom,
)
from tests.conftest import busy, free_port, report_endpoint
from tests.core.wsgi_apps import fast_app, slow_app
from web_performance_monitor import Config, ConfigError, PerformanceMonitor
from web_performance_monitor.notifiers import (
    DingTalkNotifier,
    FeishuNotifier,
    SlackNotifier,
    WeComNotifier,
)
from web_performance_monitor.notifiers.base import RetryLater, sample_alert
from web_performance_monitor.notifiers.webhook_base import (
    Facts,
    WebhookError,
    WebhookNotifier,
    markdown,
)

SECRETS = (DINGTALK_TOKEN, DINGTALK_SECRET, FEISHU_HOOK, FEISHU_SECRET, WECOM_KEY,
           SLACK_PATH.rsplit("/", 1)[1], MATTERMOST_HOOK, RECEIVER_SECRET)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeChat]:
    """The server class given by indirect parametrisation, started and stopped."""
    with request.param() as chat:
        yield chat


def _serve(factory: Callable[[], FakeChat]) -> Iterator[FakeChat]:
    with factory() as chat:
        yield chat


@pytest.fixture
def dingtalk() -> Iterator[FakeChat]:
    yield from _serve(lambda: FakeDingTalk(secret=DINGTALK_SECRET, keyword="wpm-alert"))


@pytest.fixture
def feishu() -> Iterator[FakeChat]:
    yield from _serve(lambda: FakeFeishu(secret=FEISHU_SECRET))


@pytest.fixture
def wecom() -> Iterator[FakeChat]:
    yield from _serve(FakeWeCom)


@pytest.fixture
def slack() -> Iterator[FakeChat]:
    yield from _serve(FakeSlack)


@pytest.fixture
def hooks() -> Iterator[FakeChat]:
    yield from _serve(FakeMattermostHooks)


@pytest.fixture
def receiver() -> Iterator[FakeChat]:
    yield from _serve(lambda: FakeReceiver(secret=RECEIVER_SECRET))


@pytest.fixture
def all_channels(dingtalk: FakeChat, feishu: FakeChat, wecom: FakeChat, slack: FakeChat,
                 hooks: FakeChat, receiver: FakeChat) -> dict[str, Any]:
    """Options for every webhook channel, each pointed at its local server."""
    return {"dingtalk_webhook_url": dingtalk.url, "dingtalk_secret": DINGTALK_SECRET,
            "dingtalk_keyword": "wpm-alert", "feishu_webhook_url": feishu.url,
            "feishu_secret": FEISHU_SECRET, "wecom_webhook_url": wecom.url,
            "slack_webhook_url": slack.url, "mattermost_webhook_url": hooks.url,
            "webhook_url": receiver.url, "webhook_secret": RECEIVER_SECRET,
            "webhook_timeout_seconds": 2.0}


def _slow_request(monitor: PerformanceMonitor, path: str = "/orders/pending") -> None:
    response = Client(monitor.create_middleware()(slow_app)).post(
        path, headers={"X-Request-ID": "req-77"}, query_string={"api_key": "query-secret-1"})
    assert response.status_code == 201


def _notifier(monitor: PerformanceMonitor, name: str) -> Any:
    [found] = [n for n in monitor._parts.notifiers if n.name == name]
    return found


# --- each platform's message --------------------------------------------------------------


def test_every_message_says_the_same_facts() -> None:
    alert = sample_alert()
    alert.title, alert.event.endpoint = "Slow request: GET /x`y", "GET /x`y"
    alert.event.duration, alert.event.threshold, alert.event.status = 2.5, 1.0, 503
    alert.trace, alert.suppressed_before = {"trace_id": "abc123"}, 4
    alert.hot_frames = [("execute (db.py:8)", 1.9), ("render (v.py:4)", 0.2),
                        ("a (a.py:1)", 0.1), ("b (b.py:1)", 0.05)]
    facts = Facts.of(alert, "shop", "https://r.example.com/wpm/")
    assert markdown(facts) == [
        "**Slow request: `GET /x?y`**",
        "Duration **2.500 s** (threshold 1.000 s), status 503",
        "Service `shop`",
        "Trace id `abc123`",
        "Hot lines: `execute (db.py:8)` 1.900 s, `render (v.py:4)` 0.200 s, "
        "`a (a.py:1)` 0.100 s",
        "4 more slow requests since the previous alert were not alerted",
        f"[Open the report](https://r.example.com/wpm/{alert.filename})",
    ]
    assert facts.as_json()["hot_functions"][0] == {"function": "execute (db.py:8)",
                                                   "self_seconds": 1.9}


def test_every_message_opens_with_why_it_was_slow(
        make_monitor: Callable[..., PerformanceMonitor], receiver: FakeChat) -> None:
    monitor = make_monitor(webhook_url=receiver.url, webhook_secret=RECEIVER_SECRET)
    _slow_request(monitor)
    assert monitor.flush(10)
    [alert_json] = receiver.accepted
    assert alert_json["diagnosis"].startswith(f"{alert_json['duration_seconds']:.2f} s: ")
    alert = sample_alert()
    alert.headline = ("2.50 s: 2.40 s in 6 SQL queries (N+1: `SELECT * FROM t WHERE id = ?` "
                      "×6 at `app/views.py:9`), 0.10 s in Python at `app/views.py:4`")
    lines = markdown(Facts.of(alert, None, None))
    assert lines[0] == alert.headline and lines[1].startswith("**web-performance-monitor")


def test_dingtalk_signed_markdown_with_keyword_and_at(
        make_monitor: Callable[..., PerformanceMonitor], dingtalk: FakeChat) -> None:
    monitor = make_monitor(dingtalk_webhook_url=dingtalk.url, dingtalk_secret=DINGTALK_SECRET,
                           dingtalk_keyword="wpm-alert", dingtalk_at_mobiles=["13800001111"],
                           report_base_url="https://reports.example.com/wpm/")
    _slow_request(monitor)
    assert monitor.flush(10)
    [message] = dingtalk.accepted
    assert dingtalk.refused == []  # the signature and the keyword were accepted
    assert message["msgtype"] == "markdown"
    text = message["markdown"]["text"]
    assert message["markdown"]["title"].startswith("wpm-alert")
    assert "`POST /orders/pending`" in text and "threshold 0.050 s" in text and "status 201" in text
    assert "Trace id `req-77`" in text
    assert "@13800001111" in text and message["at"]["atMobiles"] == ["13800001111"]
    [report] = [p.name for p in Path(monitor.config.local_output_dir).glob("wpm_*.html")]
    assert f"(https://reports.example.com/wpm/{report})" in text
    assert "query-secret-1" not in json.dumps(message)
    [request] = dingtalk.requests
    assert request["query"]["access_token"] == DINGTALK_TOKEN
    assert {"timestamp", "sign"} <= set(request["query"])


def test_dingtalk_wrong_secret_is_a_failure_despite_http_200(dingtalk: FakeChat) -> None:
    notifier = DingTalkNotifier(dingtalk.url, secret="SECwrong-secret", keyword="wpm-alert")
    with pytest.raises(WebhookError, match="errcode 310000: sign not match"):
        notifier.send(sample_alert())
    assert dingtalk.accepted == [] and dingtalk.refused == [
        (200, {"errcode": 310000, "errmsg": "sign not match"})]
    notifier.close()


def test_each_kind_of_refusal_is_logged_once_with_the_platform_message(
        make_monitor: Callable[..., PerformanceMonitor], dingtalk: FakeChat,
        caplog: pytest.LogCaptureFixture) -> None:
    monitor = make_monitor(dingtalk_webhook_url=dingtalk.url, dingtalk_secret="SECwrong-one",
                           dingtalk_keyword="wpm-alert", enable_local_file=False)
    with caplog.at_level(logging.INFO, logger="web_performance_monitor"):
        for path in ("/a", "/b"):  # the same refusal twice
            _slow_request(monitor, path)
            assert monitor.flush(10)
        dingtalk.token = "the-robot-was-deleted"  # type: ignore[attr-defined]
        _slow_request(monitor, "/c")
        assert monitor.flush(10)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and "sending an alert to dingtalk failed" in r.getMessage()]
    assert len(warnings) == 2
    assert "errcode 310000: sign not match" in warnings[0]
    assert "errcode 300001: token is not exist" in warnings[1]
    assert monitor.get_stats()["notifier_failures"] == {"dingtalk": 3}


def test_dingtalk_keyword_is_required_by_the_robot() -> None:
    with FakeDingTalk(keyword="wpm-alert") as robot:
        missing = DingTalkNotifier(robot.url)
        with pytest.raises(WebhookError, match="keywords not in content"):
            missing.send(sample_alert())
        given = DingTalkNotifier(robot.url, keyword="wpm-alert")
        given.send(sample_alert())
        [message] = robot.accepted
        assert "wpm-alert" in message["markdown"]["text"]
        missing.close()
        given.close()


def test_feishu_signed_card_with_report_button(
        make_monitor: Callable[..., PerformanceMonitor], feishu: FakeChat) -> None:
    monitor = make_monitor(feishu_webhook_url=feishu.url, feishu_secret=FEISHU_SECRET,
                           report_base_url="https://reports.example.com")
    _slow_request(monitor)
    assert monitor.flush(10)
    assert feishu.refused == []
    [message] = feishu.accepted
    assert message["msg_type"] == "interactive"
    card = message["card"]
    assert card["header"]["title"]["content"] == "Slow request: POST /orders/pending (tests)"
    text = card["elements"][0]["text"]["content"]
    assert "threshold 0.050 s" in text and "req-77" in text
    [button] = card["elements"][1]["actions"]
    assert button["url"].startswith("https://reports.example.com/wpm_")
    assert report_endpoint(button["url"]) == "POST-orders-pending"


def test_feishu_wrong_signature_is_refused(feishu: FakeChat) -> None:
    notifier = FeishuNotifier(feishu.url, secret="not-the-secret")
    with pytest.raises(WebhookError, match="code 19021"):
        notifier.send(sample_alert())
    notifier.close()


def _many_facts(count: int) -> list[Facts]:
    alert = sample_alert()
    return [Facts.of(alert, None, "https://reports.example.com") for _ in range(count)]


def test_feishu_body_stays_under_20_kb(feishu: FakeChat) -> None:
    notifier = FeishuNotifier(feishu.url, secret=FEISHU_SECRET)
    notifier.post_digest(_many_facts(400))  # about 60 KB of lines
    [request] = feishu.requests
    assert len(request["body"]) <= 20 * 1024
    [message] = feishu.accepted
    assert message["card"]["elements"][0]["text"]["content"].endswith("(truncated)")
    notifier.close()


def test_wecom_markdown_then_report_file(make_monitor: Callable[..., PerformanceMonitor],
                                         wecom: FakeChat) -> None:
    monitor = make_monitor(wecom_webhook_url=wecom.url)
    _slow_request(monitor)
    assert monitor.flush(10)
    assert wecom.refused == []
    summary, file_message = wecom.accepted
    assert summary["msgtype"] == "markdown"
    assert "`POST /orders/pending`" in summary["markdown"]["content"]
    assert file_message["msgtype"] == "file"
    name, content = wecom.files[file_message["file"]["media_id"]]  # type: ignore[attr-defined]
    assert report_endpoint(name) == "POST-orders-pending"
    assert b"POST /orders/pending" in content and b"query-secret-1" not in content
    assert [r["path"] for r in wecom.requests] == [
        "/cgi-bin/webhook/send", "/cgi-bin/webhook/upload_media", "/cgi-bin/webhook/send"]


def test_wecom_failed_upload_keeps_the_delivered_summary(
        make_monitor: Callable[..., PerformanceMonitor], wecom: FakeChat) -> None:
    wecom.script.extend(["ok", "500"])  # the summary is shown, the upload fails
    monitor = make_monitor(wecom_webhook_url=wecom.url, enable_local_file=False,
                           notify_retries=2)
    _slow_request(monitor)
    assert monitor.flush(10)
    [summary] = wecom.accepted  # not repeated by a retry
    assert summary["msgtype"] == "markdown"
    stats = monitor.get_stats()
    assert stats["alerts_sent"] == 1
    assert stats["internal_errors"] == {"sending the report file to wecom": 1}


def test_wecom_markdown_is_cut_to_4096_bytes(wecom: FakeChat) -> None:
    notifier = WeComNotifier(wecom.url)
    notifier.post_digest(_many_facts(200))
    [message] = wecom.accepted
    assert len(message["markdown"]["content"].encode()) <= 4096
    notifier.close()


def test_slack_text_and_blocks(make_monitor: Callable[..., PerformanceMonitor],
                               slack: FakeChat) -> None:
    monitor = make_monitor(slack_webhook_url=slack.url,
                           report_base_url="https://reports.example.com")
    _slow_request(monitor)
    assert monitor.flush(10)
    [message] = slack.accepted
    header, section = message["blocks"]
    assert header["text"]["text"] == "Slow request: POST /orders/pending (tests)"
    assert section["text"]["type"] == "mrkdwn"
    assert "s* (threshold 0.050 s)" in section["text"]["text"]  # mrkdwn bold: *2.384 s*
    assert "<https://reports.example.com/wpm_" in section["text"]["text"]
    assert "POST /orders/pending" in message["text"]


def test_slack_section_is_cut_to_3000_characters(slack: FakeChat) -> None:
    notifier = SlackNotifier(slack.url)
    notifier.post_digest(_many_facts(200))
    [message] = slack.accepted
    assert len(message["blocks"][1]["text"]["text"]) <= 3000
    notifier.close()


def test_mattermost_incoming_webhook(make_monitor: Callable[..., PerformanceMonitor],
                                     hooks: FakeChat) -> None:
    monitor = make_monitor(mattermost_webhook_url=hooks.url,
                           mattermost_webhook_channel="perf-alerts",
                           mattermost_webhook_username="wpm")
    _slow_request(monitor)
    assert monitor.flush(10)
    [message] = hooks.accepted
    assert (message["channel"], message["username"]) == ("perf-alerts", "wpm")
    assert "**Slow request: `POST /orders/pending`**" in message["text"]


def test_generic_webhook_signed_json(make_monitor: Callable[..., PerformanceMonitor],
                                     receiver: FakeChat) -> None:
    monitor = make_monitor(webhook_url=receiver.url, webhook_secret=RECEIVER_SECRET,
                           webhook_timeout_seconds=3)
    _slow_request(monitor)
    assert monitor.flush(10)
    assert receiver.refused == []  # the signature matched
    [message] = receiver.accepted
    assert message["event"] == "slow_alert"
    assert (message["endpoint"], message["status"], message["threshold_seconds"],
            message["trace_id"]) == ("POST /orders/pending", 201, 0.05, "req-77")
    assert message["duration_seconds"] > 0.05
    assert isinstance(message["hot_functions"], list)
    assert "query-secret-1" not in json.dumps(message)


def test_channel_works_again_after_close(make_monitor: Callable[..., PerformanceMonitor],
                                         receiver: FakeChat) -> None:
    monitor = make_monitor(webhook_url=receiver.url, webhook_secret=RECEIVER_SECRET)
    _slow_request(monitor, "/first")
    monitor.close(timeout=5)  # not final: the monitor keeps working
    _slow_request(monitor, "/second")
    assert monitor.flush(10)
    assert [m["endpoint"] for m in receiver.accepted] == ["POST /first", "POST /second"]


def test_generic_webhook_wrong_secret(receiver: FakeChat,
                                      make_monitor: Callable[..., PerformanceMonitor]) -> None:
    monitor = make_monitor(webhook_url=receiver.url, webhook_secret="another-secret-value")
    result = monitor.test_alert_system()
    assert result["notifier_results"]["webhook"] is False
    assert "HTTP 401" in result["error"]


def test_apprise_urls_go_through_apprise(make_monitor: Callable[..., PerformanceMonitor]) -> None:
    with FakeReceiver() as json_endpoint:
        apprise_url = f"json://127.0.0.1:{json_endpoint.server_address[1]}/alerts"
        monitor = make_monitor(apprise_urls=[apprise_url])
        _slow_request(monitor)
        assert monitor.flush(10)
        [message] = json_endpoint.accepted
        assert message["title"] == "Slow request: POST /orders/pending (tests)"
        assert "threshold 0.050 s" in message["message"]


# --- the platforms' limits and failures -----------------------------------------------------


@pytest.mark.parametrize(("server", "make", "seconds"), [
    (FakeDingTalk, lambda url: DingTalkNotifier(url), 600.0),
    (FakeFeishu, lambda url: FeishuNotifier(url), 10.0),
    (FakeWeCom, lambda url: WeComNotifier(url), 60.0),
], indirect=["server"])
def test_platform_rate_limit_codes_mean_retry_later(
        server: FakeChat, make: Callable[[str], WebhookNotifier], seconds: float) -> None:
    server.limit = (0, 60.0)  # the robot is blocked: every message answers its rate-limit code
    notifier = make(server.url)  # type: ignore[attr-defined]
    with pytest.raises(RetryLater) as caught:
        notifier.post_text("hello")
    assert caught.value.seconds == seconds
    notifier.close()


def test_slack_429_with_retry_after(slack: FakeChat) -> None:
    slack.mode = "429"
    notifier = SlackNotifier(slack.url)
    with pytest.raises(RetryLater) as caught:
        notifier.post_text("hello")
    assert caught.value.seconds == 7.0
    notifier.close()


def test_burst_of_50_alerts_is_merged_into_digests(
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    """DingTalk's 20 a minute, shortened to 20 in 3 s on both sides so the test is short."""
    with FakeDingTalk() as robot:
        robot.limit = (20, 3.0)
        monitor = make_monitor(dingtalk_webhook_url=robot.url, threshold_seconds=0,
                               max_alerts_per_minute=0, enable_local_file=False)
        _notifier(monitor, "dingtalk").window.limits = ((20, 3.3),)
        client = Client(monitor.create_middleware()(fast_app))
        paths = [f"/burst/{a}{b}" for a in "abcde" for b in "abcdefghij"]
        for path in paths:
            assert client.get(path).status_code == 200
        assert monitor.flush(30)
        expected = {f"GET {path}" for path in paths}
        shown: list[str] = []
        deadline = time.monotonic() + 15
        while set(shown) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
            texts = [m["markdown"]["text"] for m in list(robot.accepted)]
            shown = [text.split("`")[1] for text in texts
                     if "merged into one message" not in text.split("\n", 1)[0]]
            shown += [line.split("`")[1] for text in texts for line in text.split("\n")
                      if line.startswith("- ")]
        assert sorted(shown) == sorted(expected)  # every alert once, none dropped
        assert robot.refused == []  # nothing was sent to be refused
        digests = [m for m in robot.accepted if "merged into one message" in
                   m["markdown"]["text"].split("\n", 1)[0]]
        assert digests and len(robot.accepted) < 50
        assert monitor.get_stats()["alerts_sent"] == 50


def test_a_held_digest_is_sent_at_close(dingtalk: FakeChat) -> None:
    notifier = DingTalkNotifier(dingtalk.url, secret=DINGTALK_SECRET, keyword="wpm-alert")
    notifier.window.limits = ((1, 60.0),)
    for _ in range(3):
        notifier.send(sample_alert())
    assert len(dingtalk.accepted) == 1
    notifier.close()
    assert len(dingtalk.accepted) == 2 and notifier.digests == 1
    assert "2 slow endpoints" in dingtalk.accepted[1]["markdown"]["text"]


@pytest.mark.parametrize("server", [FakeDingTalk, FakeFeishu, FakeWeCom, FakeSlack,
                                    FakeMattermostHooks, FakeReceiver], indirect=True)
def test_slow_channel_times_out(server: FakeChat,
                                make_monitor: Callable[..., PerformanceMonitor]) -> None:
    option = {FakeDingTalk: "dingtalk_webhook_url", FakeFeishu: "feishu_webhook_url",
              FakeWeCom: "wecom_webhook_url", FakeSlack: "slack_webhook_url",
              FakeMattermostHooks: "mattermost_webhook_url",
              FakeReceiver: "webhook_url"}[type(server)]
    server.mode, server.slow_seconds = "slow", 2.0
    monitor = make_monitor(**{option: server.url}, webhook_timeout_seconds=0.3)  # type: ignore[attr-defined]
    result = monitor.test_alert_system()
    [name] = [n for n in result["notifier_results"] if n != "local_file"]
    assert result["notifier_results"][name] is False
    assert "no answer within 0.3 s" in result["error"]


@pytest.mark.parametrize("option", ["dingtalk_webhook_url", "feishu_webhook_url",
                                    "wecom_webhook_url", "slack_webhook_url",
                                    "mattermost_webhook_url", "webhook_url"])
def test_refused_connection(option: str, make_monitor: Callable[..., PerformanceMonitor],
                            caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook/{WECOM_KEY}?key={WECOM_KEY}"
    monitor = make_monitor(**{option: url}, enable_local_file=False)
    with caplog.at_level(logging.DEBUG, logger="web_performance_monitor"):
        _slow_request(monitor)
        assert monitor.flush(10)
        result = monitor.test_alert_system()
    assert monitor.get_stats()["alerts_failed"] == 1
    assert result["success"] is False and "ConnectError" in result["error"]
    assert WECOM_KEY not in result["error"] and WECOM_KEY not in caplog.text


def test_retry_after_is_honoured_by_the_channel(
        make_monitor: Callable[..., PerformanceMonitor], slack: FakeChat) -> None:
    slack.script.extend(["429"])
    slack.retry_after = "1"
    monitor = make_monitor(slack_webhook_url=slack.url, notify_retries=1)
    _slow_request(monitor)
    assert monitor.flush(10)
    assert len(slack.requests) == 2  # the 429, then the same alert one second later
    assert len(slack.accepted) == 1
    assert monitor.get_stats()["notifiers"]["slack"]["sent"] == 1


# --- the host app, test alerts, secrets --------------------------------------------------------


def test_requests_are_not_delayed_by_a_hanging_channel(tmp_path: Path,
                                                       dingtalk: FakeChat) -> None:
    """Through Flask's test client: the robot holds the post until the test lets it go."""
    dingtalk.mode = "gate"
    app = Flask(__name__)
    app.config.update(TESTING=True, WPM_THRESHOLD_SECONDS=0.05,
                      WPM_LOCAL_OUTPUT_DIR=str(tmp_path), WPM_ALERT_STORE_URL="memory://",
                      WPM_DINGTALK_WEBHOOK_URL=dingtalk.url,
                      WPM_DINGTALK_SECRET=DINGTALK_SECRET, WPM_DINGTALK_KEYWORD="wpm-alert")

    @app.get("/slow/<name>")
    def slow(name: str) -> dict[str, str]:
        busy(0.07)
        return {"name": name}

    WPM(app)
    monitor = WPM.get_monitor(app)
    try:
        client = app.test_client()
        assert client.get("/slow/a").json == {"name": "a"}
        deadline = time.monotonic() + 10
        while not dingtalk.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(dingtalk.requests) == 1  # the robot holds the alert's post now
        answers = [client.get(f"/slow/{name}").json for name in ("b", "c")]
        assert answers == [{"name": "b"}, {"name": "c"}]
        assert dingtalk.accepted == []  # answered while the post still waits
        dingtalk.gate.set()
        assert monitor.flush(10)
        [message] = dingtalk.accepted
        assert "GET /slow/<name>" in message["markdown"]["text"]
    finally:
        dingtalk.gate.set()
        monitor.close(timeout=5, final=True)


def test_a_hanging_channel_does_not_delay_another(
        make_monitor: Callable[..., PerformanceMonitor], dingtalk: FakeChat,
        slack: FakeChat) -> None:
    dingtalk.mode = "gate"  # holds every post until the test lets it go
    monitor = make_monitor(dingtalk_webhook_url=dingtalk.url, dingtalk_secret=DINGTALK_SECRET,
                           dingtalk_keyword="wpm-alert", slack_webhook_url=slack.url)
    _slow_request(monitor)
    deadline = time.monotonic() + 10
    while not slack.accepted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(slack.accepted) == 1 and dingtalk.accepted == []
    dingtalk.gate.set()
    assert monitor.flush(10)
    assert len(dingtalk.accepted) == 1


def test_test_alert_system_reports_each_channel(
        make_monitor: Callable[..., PerformanceMonitor], all_channels: dict[str, Any],
        dingtalk: FakeChat, feishu: FakeChat, wecom: FakeChat, slack: FakeChat,
        hooks: FakeChat, receiver: FakeChat) -> None:
    monitor = make_monitor(**all_channels)
    result = monitor.test_alert_system()
    assert result == {"success": True, "error": None, "notifier_results": {
        "local_file": True, "dingtalk": True, "feishu": True, "wecom": True, "slack": True,
        "mattermost_webhook": True, "webhook": True}}
    for chat in (dingtalk, feishu, wecom, slack, hooks, receiver):
        assert len(chat.accepted) == 1 and chat.refused == []
    assert receiver.accepted[0]["event"] == "test"


def test_secrets_never_leak(make_monitor: Callable[..., PerformanceMonitor],
                            all_channels: dict[str, Any], dingtalk: FakeChat,
                            feishu: FakeChat, wecom: FakeChat, slack: FakeChat,
                            hooks: FakeChat, receiver: FakeChat, report_dir: Path,
                            caplog: pytest.LogCaptureFixture) -> None:
    for chat in (dingtalk, feishu, wecom, slack, hooks, receiver):
        chat.mode = "500"
    monitor = make_monitor(**all_channels)
    with caplog.at_level(logging.DEBUG):
        _slow_request(monitor)
        assert monitor.flush(10)
        result = monitor.test_alert_system()
    assert result["success"] is False
    [report] = report_dir.glob("wpm_*.html")
    shown = {"logs": caplog.text, "error": result["error"], "repr": repr(monitor.config),
             "as_dict": json.dumps(monitor.config.as_dict()), "report": report.read_text()}
    for secret in SECRETS:
        for where, text in shown.items():
            assert secret not in text, (secret, where)
    assert monitor.config.as_dict()["dingtalk_webhook_url"] == (
        f"http://127.0.0.1:{dingtalk.server_address[1]}/********")


def test_flask_wpm_config_and_test_alert(tmp_path: Path,
                                             all_channels: dict[str, Any]) -> None:
    app = Flask(__name__)
    app.config.update(TESTING=True, WPM_LOCAL_OUTPUT_DIR=str(tmp_path),
                      WPM_ALERT_STORE_URL="memory://",
                      **{f"WPM_{key.upper()}": value for key, value in all_channels.items()})
    WPM(app)
    try:
        runner = app.test_cli_runner()
        output = runner.invoke(args=["wpm", "config", "--json"]).output
        assert json.loads(output)["WPM_FEISHU_SECRET"] == "********"
        tested = runner.invoke(args=["wpm", "test-alert"]).output
        assert {"dingtalk: ok", "feishu: ok", "wecom: ok", "slack: ok",
                "mattermost_webhook: ok", "webhook: ok"} <= set(tested.splitlines())
        for secret in SECRETS:
            assert secret not in output and secret not in tested
    finally:
        WPM.get_monitor(app).close(timeout=5, final=True)


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "key"), [
    ({"dingtalk_secret": "SECx1234"}, "dingtalk_secret"),
    ({"feishu_secret": "abcd1234"}, "feishu_secret"),
    ({"webhook_secret": "abcd1234"}, "webhook_secret"),
    ({"dingtalk_keyword": "alert"}, "dingtalk_keyword"),
    ({"slack_webhook_url": "hooks.slack.com/services/T/B/TOPSECRETVALUE"}, "slack_webhook_url"),
    ({"wecom_webhook_url": "ftp://qyapi.weixin.qq.com/x?key=TOPSECRETVALUE"},
     "wecom_webhook_url"),
    ({"apprise_urls": ["TOPSECRETVALUE"]}, "apprise_urls"),
    ({"apprise_urls": "tgram://TOPSECRETVALUE/1"}, "apprise_urls"),
])
def test_config_errors_name_the_key_and_never_echo_it(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config(**values)
    assert caught.value.key == key
    assert "TOPSECRETVALUE" not in str(caught.value)


def test_env_variables_enable_a_channel() -> None:
    config = Config.from_env({"WPM_FEISHU_WEBHOOK_URL": "https://open.larksuite.com/open-apis/"
                                                        f"bot/v2/hook/{FEISHU_HOOK}",
                              "WPM_FEISHU_SECRET": FEISHU_SECRET})
    assert config.feishu_webhook_url is not None and config.feishu_secret == FEISHU_SECRET
    with pytest.raises(ConfigError, match="WPM_DINGTALK_SECRET"):
        Config.from_env({"WPM_DINGTALK_SECRET": DINGTALK_SECRET})


def test_unknown_apprise_url_is_a_config_error(
        make_monitor: Callable[..., PerformanceMonitor]) -> None:
    with pytest.raises(ConfigError, match="apprise_urls: item 1"):
        make_monitor(apprise_urls=["nosuchservice://TOPSECRETVALUE"])
