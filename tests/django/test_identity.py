"""Which service a Django project is and which endpoint a request is: the URL pattern as
served, with the prefixes of ``include()`` and of the script prefix (the mount point)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import include, path, re_path

from tests.conftest import RecordingNotifier
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.identity import framework_label


def order(request: HttpRequest, oid: int) -> JsonResponse:
    return JsonResponse({"oid": oid})


orders = [path("orders/<int:oid>/", order), re_path(r"^legacy/(?P<oid>[0-9]+)/$", order)]
shop = [path("shop/", include(orders))]
urlpatterns = [path("api/v1/", include(shop)), path("api/v2/", include(shop))]


def test_the_project_names_the_service(dj_monitor: PerformanceMonitor,
                                       recorder: RecordingNotifier) -> None:
    """``tests.django.settings``: the project is ``tests``; the framework says Django's
    version."""
    assert Client().get("/users/7/").status_code == 200
    dj_monitor.flush()
    event = recorder.alerts[0].event
    assert (event.service, event.framework) == ("tests", framework_label("Django", "django"))
    assert event.framework.startswith("Django ")


def test_service_name_from_settings(settings: object, wpm_settings: dict[str, object],
                                    recorder: RecordingNotifier) -> None:
    from django_wpm import get_monitor

    settings.WPM = {**wpm_settings, "SERVICE_NAME": "catalog"}  # type: ignore[attr-defined]
    monitor = get_monitor()
    monitor.add_notifier(recorder)
    Client().get("/users/7/")
    monitor.flush()
    assert recorder.alerts[0].event.service == "catalog"


@override_settings(ROOT_URLCONF=__name__)
def test_include_prefixes_make_two_endpoints(dj_monitor: PerformanceMonitor) -> None:
    client = Client()
    for url in ("/api/v1/shop/orders/1/", "/api/v1/shop/orders/2/", "/api/v2/shop/orders/3/",
                "/api/v2/shop/legacy/4/"):
        assert client.get(url).status_code == 200, url
    endpoints = dj_monitor.get_stats()["endpoints"]
    assert endpoints["GET api/v1/shop/orders/<int:oid>/"]["requests"] == 2
    assert endpoints["GET api/v2/shop/orders/<int:oid>/"]["requests"] == 1
    assert set(endpoints) == {"GET api/v1/shop/orders/<int:oid>/",
                              "GET api/v2/shop/orders/<int:oid>/",
                              "GET api/v2/shop/legacy/(?P<oid>[0-9]+)/$"}


@override_settings(ROOT_URLCONF=__name__)
def test_the_script_prefix_is_part_of_the_endpoint(dj_monitor: PerformanceMonitor) -> None:
    """Served under ``/store`` (``SCRIPT_NAME``, as a proxy or a WSGI mount sets it)."""
    response = Client().get("/api/v1/shop/orders/1/", SCRIPT_NAME="/store")
    assert response.status_code == 200
    assert set(dj_monitor.get_stats()["endpoints"]) == {
        "GET /store/api/v1/shop/orders/<int:oid>/"}
