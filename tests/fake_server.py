"""The scaffolding every fake platform server of the tests shares (Mattermost, the chat robots).

A ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) served from a daemon thread while the
``with`` block runs. ``mode`` says how requests are answered ("ok", "slow", "hang", "500",
"429", ...: each server's handler decides what they mean); ``script`` lists modes for the next
requests, one each, before ``mode`` applies again.
"""

from __future__ import annotations

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

S = TypeVar("S", bound="FakeServer")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], retry_after: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.mode = "ok"
        self.script: deque[str] = deque()
        self.slow_seconds = 3.0
        self.retry_after = retry_after  # the Retry-After header a "429" answer carries
        self.stopped = threading.Event()  # set on exit: "hang" answers stop waiting
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_mode(self) -> str:
        """How to answer the request at hand: the next scripted mode, else ``mode``."""
        try:
            return self.script.popleft()
        except IndexError:
            return self.mode

    def __enter__(self: S) -> S:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.shutdown()
        self.server_close()
