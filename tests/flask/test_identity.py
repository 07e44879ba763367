"""Which service a Flask app is and which endpoint a request is: the rule as served, with the
prefixes of nested blueprints and of the mount point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from flask_wpm import WPM
from tests.conftest import RecordingNotifier
from tests.flask.conftest import build_app
from web_performance_monitor.identity import framework_label


def nested_blueprints(app: Flask) -> None:
    """``/api/v1/orders/<int:oid>`` through a parent and a child blueprint, registered twice."""
    parent = Blueprint("parent", __name__)
    child = Blueprint("orders", __name__, url_prefix="/orders")

    @child.get("/<int:oid>")
    def order(oid: int) -> Any:
        return jsonify(oid=oid)

    parent.register_blueprint(child)
    app.register_blueprint(parent, url_prefix="/api/v1")
    app.register_blueprint(parent, url_prefix="/api/v2", name="parent_v2")


def test_the_app_names_the_service_and_the_framework(app: Flask,
                                                     recorder: RecordingNotifier) -> None:
    assert app.test_client().get("/users/1").status_code == 200
    monitor = WPM.get_monitor(app)
    monitor.flush()
    event = recorder.alerts[0].event
    assert (event.service, event.framework) == (app.name, framework_label("Flask", "flask"))
    assert event.framework.startswith("Flask ") and event.framework != "Flask "
    assert app.name == "tests.flask.conftest"  # the import name, as Flask names the app


def test_service_name_from_app_config(report_dir: Path, recorder: RecordingNotifier) -> None:
    app = build_app(report_dir, WPM_SERVICE_NAME="storefront")
    WPM(app)
    WPM.get_monitor(app).add_notifier(recorder)
    app.test_client().get("/users/1")
    WPM.get_monitor(app).flush()
    assert recorder.alerts[0].event.service == "storefront"
    WPM.get_monitor(app).close()


def test_nested_blueprints_are_two_endpoints(app: Flask) -> None:
    nested_blueprints(app)
    client = app.test_client()
    for path in ("/api/v1/orders/1", "/api/v1/orders/2", "/api/v2/orders/3"):
        assert client.get(path).status_code == 200
    endpoints = WPM.get_monitor(app).get_stats()["endpoints"]
    assert endpoints["GET /api/v1/orders/<int:oid>"]["requests"] == 2
    assert endpoints["GET /api/v2/orders/<int:oid>"]["requests"] == 1


def test_the_mount_point_is_part_of_the_endpoint(report_dir: Path) -> None:
    """Two apps mounted by ``DispatcherMiddleware`` (``SCRIPT_NAME``): the same rule under
    two mount points is two endpoints."""
    shop, admin = build_app(report_dir), build_app(report_dir)
    WPM(shop)
    WPM(admin)
    client = Client(DispatcherMiddleware(shop, {"/admin": admin}))
    assert client.get("/users/1").status_code == 200
    assert client.get("/admin/users/2").status_code == 200
    assert set(WPM.get_monitor(shop).get_stats()["endpoints"]) == {"GET /users/<int:uid>"}
    assert set(WPM.get_monitor(admin).get_stats()["endpoints"]) == {
        "GET /admin/users/<int:uid>"}
    for app in (shop, admin):
        WPM.get_monitor(app).close()
