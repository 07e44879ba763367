"""Per-call cost of capturing outgoing HTTP calls (issue 15): ``python bench/calls.py``.

Two parts, each printed as a table of medians over ``--repeats`` blocks:

1. The hooks alone: each library's hooked functions wrapped around originals that do nothing
   (an ``http.client`` call is its ``putrequest``, ``endheaders`` and ``getresponse``), timed
   bare, hooked outside a monitored request and hooked inside one (where the call is recorded:
   the application's line found, a ``Call`` kept; a fresh request every 500 calls, as the
   per-request limit would otherwise turn recording into counting). Nanoseconds per call.
2. Real calls to a local HTTP server on 127.0.0.1 with requests, httpx (sync and async) and
   aiohttp: the client's CPU microseconds per call without a monitor, with the hooks installed
   outside a monitored request, and inside one: the hooks next to what the client library
   itself costs.

Times are the calling thread's CPU time (``time.thread_time``), steadier than wall time on a
shared machine; still, read differences of a few percent as noise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "core"))

import aiohttp
import httpx
import requests
import yarl

from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.capture import context, http_aiohttp, http_httpx, http_stdlib

BATCH = 500  # calls per monitored request
# CPU time of the calling thread: what the hooks cost is CPU, and on a shared machine wall time
# also counts the moments the thread waits for a core (and part 2's server runs in threads
# of its own, so its work is not counted either).
CLOCK = time.thread_time


class _Connection:
    host, port, default_port, _tunnel_host = "127.0.0.1", 8080, 80, None

    def putrequest(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
        pass

    def endheaders(self, *args: Any, **kwargs: Any) -> None:
        pass

    def getresponse(self) -> Any:
        return _RESPONSE


class _Transport:
    def handle_request(self, request: Any) -> Any:
        return _RESPONSE

    async def handle_async_request(self, request: Any) -> Any:
        return _RESPONSE


_RESPONSE = SimpleNamespace(status=200, status_code=200)
_REQUEST = SimpleNamespace(method="GET", url=httpx.URL("http://127.0.0.1:8080/a?b=1"))


def _stdlib_call(hooked: bool) -> Callable[[], None]:
    conn = _Connection()
    put, end, get = (_Connection.putrequest, _Connection.endheaders, _Connection.getresponse)
    if hooked:
        put, end = http_stdlib._putrequest(put), http_stdlib._endheaders(end)
        get = http_stdlib._getresponse(get)

    def one() -> None:
        put(conn, "GET", "/a?b=1")
        end(conn)
        get(conn)

    return one


def _httpx_call(hooked: bool) -> Callable[[], None]:
    transport, handle = _Transport(), _Transport.handle_request
    if hooked:
        handle = http_httpx._handle_request(handle)
    return lambda: handle(transport, _REQUEST)


def _httpx_async_call(hooked: bool) -> Callable[[int], float]:
    transport, handle = _Transport(), _Transport.handle_async_request
    if hooked:
        handle = http_httpx._handle_async_request(handle)

    async def calls(count: int) -> float:
        start = CLOCK()
        for _ in range(count):
            await handle(transport, _REQUEST)
        return CLOCK() - start

    return lambda count: asyncio.run(calls(count))


def _aiohttp_call(hooked: bool) -> Callable[[int], float]:
    """The trace handlers aiohttp awaits per request (start, end); bare: no trace config."""
    params = SimpleNamespace(method="GET", url=yarl.URL("http://127.0.0.1:8080/a?b=1"),
                             response=_RESPONSE)

    async def calls(count: int) -> float:
        start = CLOCK()
        for _ in range(count):
            if hooked:
                trace_context = SimpleNamespace(trace_request_ctx=None)
                await http_aiohttp._on_request_start(None, trace_context, params)
                await http_aiohttp._on_request_end(None, trace_context, params)
        return CLOCK() - start

    return lambda count: asyncio.run(calls(count))


def _timed_loop(one: Callable[[], Any]) -> Callable[[int], float]:
    def loop(count: int) -> float:
        start = CLOCK()
        for _ in range(count):
            one()
        return CLOCK() - start

    return loop


def _in_requests(loop: Callable[[int], float], count: int) -> float:
    """``count`` calls, a monitored request (a fresh holder) for every ``BATCH``."""
    total = 0.0
    for done in range(0, count, BATCH):
        slot, holder = context.enter(threading.get_ident())
        total += loop(min(BATCH, count - done))
        context.leave(slot, holder)
        if not holder or not holder[0].calls or holder[0].calls[-1].status != 200:
            raise RuntimeError("the hooks recorded no call: these figures would be wrong")
    return total


def hooks_alone(count: int, repeats: int) -> None:
    cases = {
        "http.client (requests, urllib3)": lambda hooked: _timed_loop(_stdlib_call(hooked)),
        "httpx": lambda hooked: _timed_loop(_httpx_call(hooked)),
        "httpx async": _httpx_async_call,
        "aiohttp (trace handlers)": _aiohttp_call,
    }
    print(f"The hooks alone, CPU ns per call (median of {repeats} blocks of {count:,} calls):")
    print(f"  {'library':34} {'bare':>8} {'outside':>8} {'inside':>8} "
          f"{'+outside':>9} {'+inside':>8}")
    for name, make in cases.items():
        bare, hooked = make(False), make(True)
        figures: dict[str, list[float]] = {"bare": [], "outside": [], "inside": []}
        for _ in range(repeats):
            figures["bare"].append(bare(count) / count * 1e9)
            figures["outside"].append(hooked(count) / count * 1e9)
            figures["inside"].append(_in_requests(hooked, count) / count * 1e9)
        b, o, i = (statistics.median(figures[key]) for key in ("bare", "outside", "inside"))
        print(f"  {name:34} {b:8.0f} {o:8.0f} {i:8.0f} {o - b:+9.0f} {i - b:+8.0f}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _clients(url: str) -> dict[str, Callable[[int], float]]:
    session = requests.Session()
    client = httpx.Client()

    def async_loop(one: Callable[[Any], Any], make: Callable[[], Any]) -> Callable[[int], float]:
        async def calls(count: int) -> float:
            async with make() as opened:
                start = CLOCK()
                for _ in range(count):
                    await one(opened)
                return CLOCK() - start

        return lambda count: asyncio.run(calls(count))

    async def aiohttp_get(session: aiohttp.ClientSession) -> None:
        async with session.get(url) as response:
            await response.read()

    return {
        "requests (Session)": _timed_loop(lambda: session.get(url).content),
        "httpx.Client": _timed_loop(lambda: client.get(url).content),
        "httpx.AsyncClient": async_loop(lambda opened: opened.get(url), httpx.AsyncClient),
        "aiohttp.ClientSession": async_loop(aiohttp_get, aiohttp.ClientSession),
    }


def real_calls(count: int, repeats: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/a?b=1"
    print(f"\nReal calls to 127.0.0.1, client CPU µs per call (median of {repeats} blocks of "
          f"{count:,}):")
    print(f"  {'client':24} {'no monitor':>10} {'outside':>8} {'inside':>8}")
    for name in _clients(url):
        figures: dict[str, list[float]] = {"plain": [], "outside": [], "inside": []}
        for _ in range(repeats):  # alternating, so drift of the machine hits all three
            figures["plain"].append(_clients(url)[name](count) / count * 1e6)
            monitor = PerformanceMonitor(Config(alert_store_url="memory://",
                                                enable_local_file=False, log_level="WARNING"))
            run = _clients(url)[name]  # made after the monitor: aiohttp's session takes hooks
            figures["outside"].append(run(count) / count * 1e6)
            figures["inside"].append(_in_requests(run, count) / count * 1e6)
            monitor.close(final=True)
        p, o, i = (statistics.median(figures[key]) for key in ("plain", "outside", "inside"))
        print(f"  {name:24} {p:10.1f} {o:8.1f} {i:8.1f}")
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000, help="calls per block (part 1)")
    parser.add_argument("--real-calls", type=int, default=1_000, help="calls per block (part 2)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.real_calls, args.repeats = 5_000, 500, 1
    context.limits["max_records"] = BATCH
    hooks_alone(args.calls, args.repeats)
    real_calls(args.real_calls, args.repeats)


if __name__ == "__main__":
    main()
