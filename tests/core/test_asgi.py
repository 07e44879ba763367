"""The generic ASGI middleware with FastAPI/Starlette's test client, httpx, and a real uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi import __version__ as fastapi_version
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from tests.conftest import (
    RecordingNotifier,
    assert_own_frames_only,
    busy,
    functions_in,
    report_endpoint,
)
from tests.servers import BIN, ROOT, get_json, serve, wait_for_suppressed
from web_performance_monitor import PerformanceMonitor
from web_performance_monitor.asgi import PerformanceMiddleware


def slow_marker(seconds: float) -> None:
    busy(seconds)


def fast_marker(seconds: float) -> None:
    busy(seconds)


class Boom(Exception):
    pass


def make_api(monitor: PerformanceMonitor) -> FastAPI:
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)

    @api.get("/users/{uid}")
    async def user(uid: int) -> dict[str, int]:
        await asyncio.sleep(0.01)
        slow_marker(0.06)
        return {"uid": uid}

    @api.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        slow_marker(0.06)
        try:
            return {"json": await request.json()}
        except ValueError:
            return {"json": None}

    @api.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                slow_marker(0.03)
                yield f"{i}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    @api.get("/boom")
    async def boom() -> None:
        slow_marker(0.06)
        raise Boom("handler bug")

    @api.get("/work/{kind}/{n}")
    async def work(kind: str, n: int) -> dict[str, int]:
        if kind == "slow":
            await asyncio.sleep(0.03)
            slow_marker(0.03)
            await asyncio.sleep(0.03)
        else:
            fast_marker(0.004)
        return {"n": n}

    @api.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())
        await socket.close()

    return api


def test_slow_endpoint_route_template_and_one_alert(monitor: PerformanceMonitor,
                                                    recorder: RecordingNotifier) -> None:
    client = TestClient(make_api(monitor))
    assert client.get("/users/1").json() == {"uid": 1}
    assert client.get("/users/2").json() == {"uid": 2}
    monitor.flush()
    [alert] = recorder.alerts
    assert alert.event.endpoint == "GET /users/{uid}"
    assert alert.event.status == 200
    assert "slow_marker" in functions_in(alert)
    assert monitor.get_stats()["alerts_suppressed"] == 1


def test_add_middleware_and_the_wrapper_together_time_each_request_once(
        monitor: PerformanceMonitor, recorder: RecordingNotifier,
        caplog: pytest.LogCaptureFixture) -> None:
    """Both lines of the README's FastAPI quick start kept: one timing per request, not two
    (the second counted each slow request once more as held back)."""
    client = TestClient(monitor.create_asgi_middleware()(make_api(monitor)))
    assert client.get("/users/1").json() == {"uid": 1}
    assert client.get("/users/2").json() == {"uid": 2}
    monitor.flush()
    stats = monitor.get_stats()
    assert (stats["total_requests"], len(recorder.alerts), stats["alerts_suppressed"]) == (2, 1, 1)
    assert "applied twice" in caplog.text


def test_body_reaches_the_app_and_is_masked(monitor: PerformanceMonitor,
                                            recorder: RecordingNotifier) -> None:
    payload = {"user": "ada", "token": "TK-SECRET"}
    assert TestClient(make_api(monitor)).post("/echo", json=payload).json() == {"json": payload}
    monitor.flush()
    assert "ada" in recorder.alerts[0].html and "TK-SECRET" not in recorder.alerts[0].html


def test_streaming_is_unbuffered_and_timed_to_the_last_chunk(
        monitor: PerformanceMonitor, recorder: RecordingNotifier) -> None:
    app = make_api(monitor)
    sent: list[dict[str, Any]] = []
    totals: list[int] = []

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            totals.append(monitor.get_stats()["total_requests"])

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/stream", "raw_path": b"/stream", "root_path": "",
             "query_string": b"", "headers": [], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    bodies = [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]
    assert bodies == [b"0\n", b"1\n", b"2\n"]  # forwarded chunk by chunk
    assert totals == [0, 0, 0]  # the request was still running while chunks went out
    monitor.flush()
    assert recorder.alerts[0].event.duration >= 0.09


def test_exception_propagates_and_is_timed(monitor: PerformanceMonitor,
                                           recorder: RecordingNotifier) -> None:
    with pytest.raises(Boom, match="handler bug"):
        TestClient(make_api(monitor)).get("/boom")
    monitor.flush()
    assert recorder.alerts[0].event.error == "Boom"


def test_websocket_passes_through(monitor: PerformanceMonitor) -> None:
    with TestClient(make_api(monitor)).websocket_connect("/ws") as socket:
        socket.send_text("hello")
        assert socket.receive_text() == "hello"
    assert monitor.get_stats()["total_requests"] == 0


def test_plain_asgi_factory(monitor: PerformanceMonitor) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    wrapped = monitor.create_asgi_middleware()(app)
    assert TestClient(wrapped).get("/raw").status_code == 204
    assert monitor.get_stats()["endpoints"] == {
        "GET /raw": {"requests": 1, "slow_requests": 0,
                     "average_seconds": pytest.approx(0, abs=0.05),
                     "max_seconds": pytest.approx(0, abs=0.05)}}


def test_fifty_concurrent_requests_keep_their_own_frames(
        make_monitor: Any, recorder: RecordingNotifier) -> None:
    monitor = make_monitor(alert_window_days=0)
    monitor.add_notifier(recorder)
    app = make_api(monitor)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            paths = [f"/work/{'slow' if i % 2 else 'fast'}/{i}" for i in range(50)]
            responses = await asyncio.gather(*(client.get(p) for p in paths))
        return [r.json()["n"] for r in responses]

    assert asyncio.run(main()) == list(range(50))
    monitor.flush()
    stats = monitor.get_stats()
    assert (stats["total_requests"], stats["slow_requests"]) == (50, 25)
    assert stats["internal_errors"] == {}
    assert len(recorder.alerts) == 25
    assert_own_frames_only(recorder.alerts)


def test_fastapi_example_under_uvicorn(report_dir: Path) -> None:
    argv = [str(BIN / "uvicorn"), "--host", "127.0.0.1", "--port", "{port}", "app:app"]
    env = {"WPM_LOCAL_OUTPUT_DIR": str(report_dir), "WPM_THRESHOLD_SECONDS": "0.2"}
    cwd = ROOT / "example_projects" / "fastapi_app"
    with serve(argv, cwd=cwd, env=env) as url:
        assert get_json(f"{url}/fast") == {"status": "ok"}
        for i in range(3):
            assert get_json(f"{url}/reports/{i}")["report"] == i
        wait_for_suppressed(report_dir / ".wpm-alerts.sqlite3", "GET /reports/{report_id}", 2)
    reports = [p.name for p in report_dir.glob("wpm_*.html")]
    assert len(reports) == 1 and report_endpoint(reports[0]) == "GET-reports-report_id"


def test_faults_leave_the_response_unchanged(monitor: PerformanceMonitor, fault: str) -> None:
    client = TestClient(make_api(monitor))
    response = client.get("/users/4?q=%ff%fe", headers={"X-Trace-Id": "t-1"})
    assert (response.status_code, response.json()) == (200, {"uid": 4})
    assert response.headers["content-type"] == "application/json"
    response = client.post("/echo", content=b'{"broken": ',
                           headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (200, {"json": None})
    monitor.flush(5)


def test_lifespan_passes_through_untouched(monitor: PerformanceMonitor) -> None:
    events: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        message = await receive()
        events.append(message["type"])
        await send({"type": "lifespan.startup.complete"})

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])

    wrapped = monitor.create_asgi_middleware()(app)
    asyncio.run(wrapped({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert events == ["lifespan.startup", "lifespan.startup.complete"]
    assert monitor.get_stats()["total_requests"] == 0


def served_endpoints(monitor: PerformanceMonitor, app: Any, paths: list[str],
                     root_path: str = "") -> set[str]:
    """The endpoints the monitor counted for GET requests to ``paths`` (each answered 200)."""
    client = TestClient(app, root_path=root_path)
    for path in paths:
        assert client.get(path).status_code == 200, path
    return set(monitor.get_stats()["endpoints"])


def users_router() -> APIRouter:
    router = APIRouter()

    @router.get("/users/{uid}")
    async def user(uid: int) -> dict[str, int]:
        return {"uid": uid}

    return router


def test_one_router_under_two_prefixes_is_two_endpoints(monitor: PerformanceMonitor,
                                                        recorder: RecordingNotifier) -> None:
    """FastAPI 0.165 keeps the included route un-prefixed in the scope; 0.115 copied it with
    its prefix. Either way v1 and v2 are two endpoints, and a slow v2 alerts after v1 did."""
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)
    router = users_router()

    @router.get("/slow/{n}")
    async def slow(n: int) -> dict[str, int]:
        slow_marker(0.06)
        return {"n": n}

    api.include_router(router, prefix="/api/v1")
    api.include_router(router, prefix="/api/v2")
    assert served_endpoints(monitor, api, ["/api/v1/users/1", "/api/v2/users/2",
                                           "/api/v1/users/3", "/api/v1/slow/1",
                                           "/api/v2/slow/2"]) == {
        "GET /api/v1/users/{uid}", "GET /api/v2/users/{uid}",
        "GET /api/v1/slow/{n}", "GET /api/v2/slow/{n}"}
    monitor.flush()
    # (a loaded machine may make a users request slow too: only the slow ones are asked for)
    assert sorted(alert.event.endpoint for alert in recorder.alerts
                  if "/slow/" in alert.event.endpoint) == [
        "GET /api/v1/slow/{n}", "GET /api/v2/slow/{n}"]


def test_nested_routers_keep_every_prefix(monitor: PerformanceMonitor) -> None:
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)
    outer = APIRouter(prefix="/shop")
    outer.include_router(users_router(), prefix="/admin")
    api.include_router(outer, prefix="/api")
    assert served_endpoints(monitor, api, ["/api/shop/admin/users/5"]) == {
        "GET /api/shop/admin/users/{uid}"}


def test_starlette_mounts_and_root_path(monitor: PerformanceMonitor) -> None:
    """A ``Mount`` keeps its prefix only in ``root_path``; a mount's own variables are named
    from the path parameters; a proxy's ``root_path`` is part of the served route."""
    async def item(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse(str(request.path_params["iid"]))

    items = Starlette(routes=[Route("/items/{iid:int}", item)])
    app = Starlette(routes=[Mount("/shop", app=items), Mount("/orgs/{org}", app=items),
                            Mount("/v2", routes=[Route("/items/{iid:int}", item)])])
    wrapped = monitor.create_asgi_middleware()(app)
    assert served_endpoints(monitor, wrapped, ["/shop/items/1", "/orgs/acme/items/2",
                                               "/orgs/globex/items/3", "/v2/items/4"]) == {
        "GET /shop/items/{iid}", "GET /orgs/{org}/items/{iid}", "GET /v2/items/{iid}"}
    assert monitor.service_name == "tests"  # the package of the mounted routes' endpoints
    assert monitor.framework.startswith("Starlette ")
    monitor.reset_stats()
    assert served_endpoints(monitor, wrapped, ["/proxy/shop/items/1"], root_path="/proxy") == {
        "GET /proxy/shop/items/{iid}"}


def test_fastapi_sub_application(monitor: PerformanceMonitor) -> None:
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)
    sub = FastAPI()
    sub.include_router(users_router(), prefix="/v3")
    api.mount("/legacy", sub)
    assert served_endpoints(monitor, api, ["/legacy/v3/users/9"]) == {
        "GET /legacy/v3/users/{uid}"}


def test_the_app_names_the_service(monitor: PerformanceMonitor,
                                   recorder: RecordingNotifier) -> None:
    """Without ``service_name``: the module of the app's routes (this test package), and the
    framework found behind the middleware, with its version."""
    client = TestClient(make_api(monitor))
    client.get("/users/1")
    monitor.flush()
    [alert] = recorder.alerts
    assert (alert.event.service, alert.event.framework) == ("tests", f"FastAPI {fastapi_version}")
    assert monitor.service_name == "tests"


def test_service_name_wins_over_the_default(make_monitor: Callable[..., PerformanceMonitor],
                                            recorder: RecordingNotifier) -> None:
    monitor = make_monitor(service_name="billing")
    monitor.add_notifier(recorder)
    TestClient(make_api(monitor)).get("/users/1")
    monitor.flush()
    assert recorder.alerts[0].event.service == "billing"


def test_a_path_converter_under_a_mount(monitor: PerformanceMonitor) -> None:
    async def file(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["name"])

    app = Starlette(routes=[Mount("/static", routes=[Route("/files/{name:path}", file)])])
    wrapped = monitor.create_asgi_middleware()(app)
    assert served_endpoints(monitor, wrapped, ["/static/files/a/b/c.txt"]) == {
        "GET /static/files/{name}"}


def test_a_prefix_with_a_variable_is_named(monitor: PerformanceMonitor) -> None:
    """``/tenants/{tid}`` before an included router: the tenant's value never becomes part of
    an endpoint (one endpoint for all tenants, none of their names in a file name)."""
    api = FastAPI()
    api.add_middleware(PerformanceMiddleware, monitor=monitor)
    api.include_router(users_router(), prefix="/tenants/{tid}")
    assert served_endpoints(monitor, api, ["/tenants/acme/users/1", "/tenants/globex/users/2",
                                           "/tenants/7/users/3"]) == {
        "GET /tenants/{tid}/users/{uid}"}
