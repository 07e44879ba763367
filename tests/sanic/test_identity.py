"""Which service a Sanic app is and which endpoint a request is: the route as served, with the
prefixes of blueprints, blueprint groups and versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sanic import Blueprint, Request, json

from sanic_wpm import WPM
from tests.conftest import RecordingNotifier
from tests.sanic.apps import build_app
from web_performance_monitor.identity import framework_label


def test_the_app_names_the_service(report_dir: Path, recorder: RecordingNotifier) -> None:
    app = build_app("storefront", report_dir, recorder)
    _, response = app.test_client.get("/items/5")
    assert response.status == 200
    event = recorder.alerts[0].event
    assert (event.service, event.framework) == ("storefront", framework_label("Sanic", "sanic"))
    assert event.framework.startswith("Sanic ")


def test_service_name_from_app_config(report_dir: Path, recorder: RecordingNotifier) -> None:
    app = build_app("storefront2", report_dir, recorder, WPM_SERVICE_NAME="shop")
    app.test_client.get("/items/5")
    assert recorder.alerts[0].event.service == "shop"


def orders_blueprint(name: str) -> Blueprint:
    orders = Blueprint(name, url_prefix="/orders")

    @orders.get("/<oid:int>")
    async def order(request: Request, oid: int) -> Any:
        return json({"oid": oid})

    return orders


def test_blueprint_groups_and_versions_are_in_the_endpoint(report_dir: Path) -> None:
    app = build_app("versions", report_dir)
    app.blueprint(Blueprint.group(orders_blueprint("orders_v1"), url_prefix="/api", version=1))
    app.blueprint(Blueprint.group(orders_blueprint("orders_v2"), url_prefix="/api", version=2))
    for url in ("/v1/api/orders/1", "/v1/api/orders/2", "/v2/api/orders/3"):
        _, response = app.test_client.get(url)
        assert response.status == 200, url
    endpoints = WPM.get_monitor(app).get_stats()["endpoints"]
    assert endpoints["GET /v1/api/orders/<oid:int>"]["requests"] == 2
    assert endpoints["GET /v2/api/orders/<oid:int>"]["requests"] == 1
