"""Odd requests are recorded safely; reports are escaped, masked, self-contained, safely named."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import pytest
from werkzeug.test import Client, EnvironBuilder

from tests.conftest import RecordingNotifier
from tests.core.wsgi_apps import slow_app
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.masking import Masker
from web_performance_monitor.notifiers.local_file import prune_reports
from web_performance_monitor.report import report_filename, slugify
from web_performance_monitor.tracing import extract_trace_ids


def alert_for(monitor: PerformanceMonitor, recorder: RecordingNotifier, **request: object):
    client = Client(monitor.create_middleware()(slow_app))
    response = client.open(**request)  # type: ignore[arg-type]
    assert response.status_code == 201
    monitor.flush()
    assert len(recorder.alerts) == 1
    return recorder.alerts[0]


def test_masking_covers_query_form_nested_json_and_headers() -> None:
    masker = Masker(extra_keys=["ssn"])
    assert masker.value({"a": [{"Password": 1, "ok": 2}], "user_ssn": "x"}) == {
        "a": [{"Password": "********", "ok": 2}], "user_ssn": "********"}
    pairs = masker.pairs([("authorization", "Bearer x"), ("x-api-key", "k"),
                          ("set-cookie", "s=1"), ("proxy-authorization", "p"), ("accept", "*/*")])
    assert pairs == [("authorization", "********"), ("x-api-key", "********"),
                     ("set-cookie", "********"), ("proxy-authorization", "********"),
                     ("accept", "*/*")]


def test_report_masks_every_secret(monitor: PerformanceMonitor,
                                   recorder: RecordingNotifier) -> None:
    alert = alert_for(monitor, recorder, path="/login", method="POST",
                      query_string={"access_token": "QS-SECRET", "page": "2"},
                      data={"password": "FORM-SECRET", "name": "ada"},
                      headers={"Authorization": "Bearer HDR-SECRET", "Cookie": "sid=CK-SECRET"})
    for secret in ("QS-SECRET", "FORM-SECRET", "HDR-SECRET", "CK-SECRET"):
        assert secret not in alert.html and secret not in alert.message
    assert alert.request is not None
    assert ("name", "ada") in alert.request["body"]["form"]
    assert ("page", "2") in alert.request["query"]


def test_hostile_strings_are_escaped(monitor: PerformanceMonitor,
                                     recorder: RecordingNotifier) -> None:
    evil = "<script>alert(1)</script>"
    alert = alert_for(monitor, recorder, path="/x/<script>alert(1)</script>", method="POST",
                      query_string={"q": evil}, json={"name": evil},
                      headers={"User-Agent": evil})
    outside_profile = alert.html.split("<h2>Where the time went</h2>")[0]
    assert "<script>" not in outside_profile
    assert "&lt;script&gt;" in outside_profile


def test_invalid_utf8_in_path_and_query(monitor: PerformanceMonitor,
                                        recorder: RecordingNotifier) -> None:
    environ = EnvironBuilder(path="/p", method="GET").get_environ()
    environ["PATH_INFO"] = b"/caf\xe9/\xff\xfe".decode("latin-1")
    environ["QUERY_STRING"] = b"name=\xff\xfe&x=%ff".decode("latin-1")
    app = monitor.create_middleware()(slow_app)
    body = b"".join(app(environ, lambda *a: None))
    assert body == b'{"read": 0}'
    monitor.flush()
    request = recorder.alerts[0].request
    assert request is not None
    assert request["path"] == "/caf\ufffd/\ufffd\ufffd"
    assert ("name", "\ufffd\ufffd") in request["query"]
    assert monitor.get_stats()["internal_errors"] == {}


def test_malformed_json_is_summarised(monitor: PerformanceMonitor,
                                      recorder: RecordingNotifier) -> None:
    alert = alert_for(monitor, recorder, path="/j", method="POST", data=b'{"password": "x',
                      content_type="application/json")
    assert alert.request is not None
    assert alert.request["body"] == {"summary": "malformed JSON, 15 bytes: JSONDecodeError"}


def test_huge_body_is_read_by_the_app_and_not_stored(monitor: PerformanceMonitor,
                                                     recorder: RecordingNotifier) -> None:
    body = b"\x00\x01" * (25 * 1024 * 1024)  # 50 MB
    client = Client(monitor.create_middleware()(slow_app))
    response = client.post("/upload", data=body, content_type="application/octet-stream")
    assert response.json == {"read": len(body)}
    monitor.flush()
    alert = recorder.alerts[0]
    assert alert.request is not None
    assert alert.request["body"] == {"summary": "52,428,800 bytes (application/octet-stream), "
                                                "larger than the capture limit, not stored"}
    assert len(alert.html) < 5_000_000


def test_multipart_files_are_summarised(monitor: PerformanceMonitor,
                                        recorder: RecordingNotifier) -> None:
    import io

    alert = alert_for(monitor, recorder, path="/up", method="POST", data={
        "title": "holiday", "token": "MP-SECRET",
        "photo": (io.BytesIO(b"FILE-CONTENT" * 100), "../../etc/passwd.png", "image/png")})
    assert alert.request is not None
    body = alert.request["body"]
    assert ("title", "holiday") in body["form"]
    assert body["files"] == [{"field": "photo", "filename": "../../etc/passwd.png",
                              "content_type": "image/png", "size": 1200}]
    assert "MP-SECRET" not in alert.html
    assert "FILE-CONTENT" not in alert.html


def test_trace_header_formats() -> None:
    assert extract_trace_ids({"b3": "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"},
                             ["b3"])["span_id"] == "e457b5a2e4d86bd1"
    ids = extract_trace_ids({"sentry-trace": "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12"},
                            ["sentry-trace"])
    assert ids["trace_id"] == "771a43a4192642f0b136d5159a501700"
    ids = extract_trace_ids({"x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312"},
                            ["x-b3-traceid", "x-b3-spanid"])
    assert (ids["trace_id"], ids["span_id"]) == ("463ac35c9f6413ad", "a2fb4a1d1a96d312")
    assert extract_trace_ids({"x-trace-id": "<b>\n"}, ["x-trace-id"]) == {
        "trace_id": "b", "x-trace-id": "b"}


@pytest.mark.parametrize("endpoint", [
    "GET /../../etc/passwd", "GET /a\x00b", "GET /" + "x" * 5000, "GET \\windows\\..\\system",
    "GET /\u202e\ufeff", "..", "",
])
def test_report_file_names_are_safe(endpoint: str) -> None:
    name = report_filename(endpoint, time.time())
    assert re.fullmatch(r"wpm_[A-Za-z0-9_-]+_\d{8}T\d{6}Z_[0-9a-f]{8}\.html", name)
    assert len(name) < 120
    assert slugify(endpoint) not in ("", ".", "..")


def test_report_file_is_written_atomically_with_mode_0640(monitor: PerformanceMonitor,
                                                          recorder: RecordingNotifier,
                                                          report_dir: Path) -> None:
    alert = alert_for(monitor, recorder, path="/../../escape", method="GET")
    assert sorted(os.listdir(report_dir)) == sorted([alert.filename, "index.html"])  # no temp
    path = report_dir / alert.filename
    assert alert.report_path == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    html = path.read_text()
    assert "<html" in html
    assert not re.search(r"""(src|href)=["']?https?://""", html)  # opens offline


def test_retention_bounds_the_folder(tmp_path: Path) -> None:
    now = time.time()
    for i in range(6):
        file = tmp_path / f"wpm_e_{i}.html"
        file.write_text("x")
        os.utime(file, (now - i * 86400, now - i * 86400))
    (tmp_path / "unrelated.html").write_text("keep me")
    assert prune_reports(str(tmp_path), keep=4, max_age_days=2.5) == 3
    assert sorted(os.listdir(tmp_path)) == ["unrelated.html", "wpm_e_0.html", "wpm_e_1.html",
                                            "wpm_e_2.html"]


TRACE_NAMES = ["traceparent", "x-trace-id", "x-request-id", "x-b3-traceid", "x-b3-spanid", "b3",
               "sentry-trace", "x-span-id"]
W3C = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize("flag", ["0", "1", "d"])
def test_a_lone_b3_sampling_flag_carries_no_ids(flag: str) -> None:
    assert extract_trace_ids({"b3": flag}, TRACE_NAMES) == {}


@pytest.mark.parametrize("value", [
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # 31 hex
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # 00 has four fields
    "garbage",
])
def test_an_invalid_traceparent_is_skipped_for_the_next_header(value: str) -> None:
    ids = extract_trace_ids({"traceparent": value,
                             "sentry-trace": "771a43a4192642f0b136d5159a501700-b0e6f15b45c36b12-1"},
                            TRACE_NAMES)
    assert (ids["trace_id"], ids["span_id"]) == ("771a43a4192642f0b136d5159a501700",
                                                  "b0e6f15b45c36b12")
    assert "traceparent" not in ids


def test_valid_trace_headers_of_each_format() -> None:
    assert extract_trace_ids({"traceparent": W3C}, TRACE_NAMES)["span_id"] == "00f067aa0ba902b7"
    future = extract_trace_ids({"traceparent": W3C.replace("00-", "01-", 1) + "-more"}, TRACE_NAMES)
    assert future["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    b3 = extract_trace_ids({"b3": "463ac35c9f6413ad-a2fb4a1d1a96d312-d"}, TRACE_NAMES)
    assert (b3["trace_id"], b3["span_id"]) == ("463ac35c9f6413ad", "a2fb4a1d1a96d312")
    assert extract_trace_ids({"x-b3-traceid": "463ac35c9f6413ad" * 3}, TRACE_NAMES) == {}
    assert extract_trace_ids({"x-b3-spanid": "0" * 16}, TRACE_NAMES) == {}
    assert extract_trace_ids({"sentry-trace": "771a43a4192642f0b136d5159a501700-x"},
                             TRACE_NAMES) == {}
