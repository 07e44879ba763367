"""Pages as the tests read them: parsed (``Elements``), or in a headless Chromium driven
through the DevTools protocol (``Browser``: real clicks, real typing, screenshots, and the
page's console and policy messages).

Chromium is Debian's (``apt-get install chromium``; CI installs it); tests that need it are
marked ``needs_chromium`` and skipped, with that reason, where it is absent. The protocol runs
over a WebSocket (``websockets``' synchronous client), so nothing is downloaded at test time.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium installed "
                                    "(apt-get install chromium)")
WIDTH, HEIGHT = 1280, 800


class Elements(HTMLParser):
    """Every element of a page: (tag, attributes), and the text of the whole page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}

    def first(self, tag: str) -> dict[str, str | None]:
        return next(attrs for name, attrs in self.elements if name == tag)


@contextmanager
def chromium_tab() -> Iterator[Browser]:
    """A headless Chromium with one tab, for the ``with`` block; closed (and its profile
    folder removed) afterwards."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="wpm-chromium-", ignore_cleanup_errors=True) as home:
        process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={home}",
             f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with connect(_page_socket(Path(home)), max_size=None, open_timeout=30) as socket:
                yield Browser(socket)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _page_socket(home: Path) -> str:
    """The tab's DevTools WebSocket, once Chromium has written its port into its profile."""
    port_file = home / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                        timeout=10) as answer:
                pages = [t for t in json.load(answer) if t["type"] == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.05)
    raise TimeoutError("headless Chromium did not open its DevTools port")


class Browser:
    """A Chromium tab over its DevTools socket (``chromium_tab`` makes one).

    ``messages`` collects what the page said: console calls, uncaught exceptions and the
    browser's own log entries (a Content-Security-Policy refusal is one of those).
    """

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.messages: list[str] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                  deviceScaleFactor=1, mobile=False)

    def _note(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            self.messages.append(" ".join(str(a.get("value", a.get("description", "")))
                                          for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.messages.append("Uncaught " + json.dumps(params.get("exceptionDetails", {})))
        elif method == "Log.entryAdded":
            self.messages.append(params["entry"].get("text", ""))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its result (events meanwhile are noted)."""
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._note(message)

    def open(self, url: str) -> None:
        """Load ``url`` and wait until its load event (the page's scripts have run)."""
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && "
                      "document.readyState === 'complete'")

    def wait_for(self, expression: str, timeout: float = 30) -> None:
        """Wait until a JavaScript expression is true in the page (a navigation, a change)."""
        deadline = time.monotonic() + timeout
        while not self._true(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"never true: {expression}")
            time.sleep(0.05)

    def _true(self, expression: str) -> bool:
        try:
            return bool(self.evaluate(expression))
        except RuntimeError:  # the page is between two documents
            return False

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (DevTools', not the page's, code)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) in the middle of the first match."""
        box = self.evaluate(
            f"(function(){{var e=document.querySelector({json.dumps(selector)});"
            "e.scrollIntoView({block:'center'});var r=e.getBoundingClientRect();"
            "return [r.x+r.width/2,r.y+r.height/2]})()")
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def type(self, selector: str, text: str) -> None:
        """Click into the field ``selector`` and type ``text`` over what it holds, as a keyboard
        would insert it (an ``input`` event per insertion)."""
        self.click(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        if text:
            self.call("Input.insertText", text=text)
        else:
            self.press("Backspace", 8)

    def press(self, key: str, code: int) -> None:
        """One key pressed and released on the focused element (``"ArrowDown"``, 40)."""
        for kind in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                      windowsVirtualKeyCode=code)

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate("[document.documentElement.scrollWidth,"
                                 "document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1})
        else:
            self.evaluate("window.scrollTo(0,0)")
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
