"""PerformanceMonitorMiddleware through Django's Client and AsyncClient."""

from __future__ import annotations

import asyncio
import io

import pytest
from django.http import FileResponse, HttpRequest
from django.test import AsyncClient, Client, override_settings
from django.urls import path as url_path

from django_wpm import get_monitor
from tests.conftest import RecordingNotifier, functions_in
from tests.django import views
from web_performance_monitor import PerformanceMonitor


def test_slow_sync_view_gives_one_report(dj_monitor: PerformanceMonitor,
                                         recorder: RecordingNotifier) -> None:
    response = Client().get("/users/7/", {"token": "QS-SECRET"})
    assert response.json() == {"id": 7}
    dj_monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET users/<int:uid>/"
    assert {"user", "busy"} <= functions_in(alert)
    assert alert.request is not None and ("token", "********") in alert.request["query"]
    assert "QS-SECRET" not in alert.html
    assert alert.report_path and alert.report_path.endswith(".html")


def test_slow_async_view_gives_one_report(dj_monitor: PerformanceMonitor,
                                          recorder: RecordingNotifier) -> None:
    response = asyncio.run(AsyncClient().get("/async-users/3/"))
    assert response.json() == {"id": 3, "async": True}
    dj_monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET async-users/<int:uid>/"
    assert "busy" in functions_in(alert)


def test_two_paths_of_one_route_share_one_alert(dj_monitor: PerformanceMonitor,
                                                recorder: RecordingNotifier) -> None:
    client = Client()
    for path in ("/users/1/", "/users/2/", "/api/users/3/"):
        assert client.get(path).status_code == 200
    dj_monitor.flush()
    assert sorted(a.event.endpoint for a in recorder.alerts) == [
        "GET api/users/<int:uid>/", "GET users/<int:uid>/"]
    assert dj_monitor.get_stats()["alerts_suppressed"] == 1


def test_unknown_urls_share_one_endpoint(dj_monitor: PerformanceMonitor) -> None:
    client = Client()
    for path in ("/nope/1", "/nope/2", "/x"):
        assert client.get(path).status_code == 404
    assert dj_monitor.get_stats()["endpoints"]["GET <unmatched>"]["requests"] == 3


def test_override_settings_changes_behaviour(dj_monitor: PerformanceMonitor,
                                             report_dir: object) -> None:
    with override_settings(WPM={"THRESHOLD_SECONDS": 10, "ALERT_STORE_URL": "memory://",
                                "LOCAL_OUTPUT_DIR": str(report_dir)}):
        inner = get_monitor()
        assert inner is not dj_monitor
        Client().get("/users/1/")
        assert inner.get_stats()["slow_requests"] == 0
        assert inner.config.threshold_seconds == 10
    assert get_monitor().config.threshold_seconds == 0.05


def test_view_reads_its_body_and_report_masks_it(dj_monitor: PerformanceMonitor,
                                                 recorder: RecordingNotifier) -> None:
    payload = {"user": "ada", "password": "PW-SECRET"}
    response = Client().post("/echo/body/", payload, content_type="application/json")
    assert response.json() == {"json": payload}
    dj_monitor.flush()
    alert = recorder.alerts[0]
    assert alert.request is not None
    assert alert.request["body"]["json"] == {"user": "ada", "password": "********"}
    assert "PW-SECRET" not in alert.html


def test_multipart_form_is_read_by_the_view_and_summarised(
        dj_monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    import io

    upload = io.BytesIO(b"FILE-CONTENT" * 10)
    upload.name = "photo.png"
    response = Client().post("/echo/form/", {"title": "holiday", "api_key": "K-SECRET",
                                             "photo": upload})
    assert response.json() == {"form": {"title": "holiday", "api_key": "K-SECRET"},
                               "files": {"photo": 120}}
    dj_monitor.flush()
    alert = recorder.alerts[0]
    assert alert.request is not None
    body = alert.request["body"]
    assert body["form"] == [("title", "holiday"), ("api_key", "********")]
    assert [(f["filename"], f["size"]) for f in body["files"]] == [("photo.png", 120)]
    assert "K-SECRET" not in alert.html and "FILE-CONTENT" not in alert.html


def test_streaming_response_is_unbuffered_and_timed(dj_monitor: PerformanceMonitor,
                                                    recorder: RecordingNotifier) -> None:
    response = Client().get("/stream/")
    assert response.streaming
    chunks = iter(response.streaming_content)
    assert next(chunks) == b"0\n"
    assert dj_monitor.get_stats()["total_requests"] == 0  # still streaming
    assert list(chunks) == [b"1\n", b"2\n"]
    response.close()
    dj_monitor.flush()
    assert dj_monitor.get_stats()["slow_requests"] == 1
    assert recorder.alerts[0].event.duration >= 0.09


def test_view_exception_propagates_and_is_timed(dj_monitor: PerformanceMonitor,
                                                recorder: RecordingNotifier) -> None:
    with pytest.raises(ZeroDivisionError, match="view bug"):
        Client().get("/boom/")
    assert Client(raise_request_exception=False).get("/boom/").status_code == 500
    dj_monitor.flush()
    assert dj_monitor.get_stats()["slow_requests"] == 2
    assert recorder.alerts[0].event.status == 500


def test_monitor_function_sync_and_async(dj_monitor: PerformanceMonitor,
                                         recorder: RecordingNotifier) -> None:
    assert Client().get("/helper/").json() == {"value": 2}
    assert asyncio.run(views.compute_async(4)) == 8
    dj_monitor.flush()
    names = sorted(a.event.endpoint for a in recorder.alerts)
    assert names == ["tests.django.views.compute", "tests.django.views.compute_async"]


def test_disabled_monitor_is_a_pass_through(dj_monitor: PerformanceMonitor) -> None:
    dj_monitor.disable_monitoring()
    assert Client().get("/users/1/").status_code == 200
    assert dj_monitor.get_stats()["total_requests"] == 0


def test_faults_leave_the_response_unchanged(dj_monitor: PerformanceMonitor, fault: str) -> None:
    response = Client().get("/users/4/", HTTP_X_TRACE_ID="t-1")
    assert (response.status_code, response.json()) == (200, {"id": 4})
    assert response["Content-Type"] == "application/json"
    response = asyncio.run(AsyncClient().get("/async-users/5/?q=%ff%fe"))
    assert response.json() == {"id": 5, "async": True}
    dj_monitor.flush(5)


def _file_view(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"file body " * 1000), filename="data.txt")


urlpatterns = [url_path("file/", _file_view)]  # this module doubles as a URLconf for the test below


@override_settings(ROOT_URLCONF=__name__)
def test_file_response_passes_through_untouched(dj_monitor: PerformanceMonitor) -> None:
    response = Client().get("/file/")
    assert isinstance(response, FileResponse)
    assert b"".join(response.streaming_content) == b"file body " * 1000
    response.close()
    assert dj_monitor.get_stats()["endpoints"]["GET file/"]["requests"] == 1
