"""Fixtures shared by every package's tests: monitors with a recording notifier, helpers."""

from __future__ import annotations

import importlib.util
import os
import pwd
import random
import re
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.http_target import HTTPTarget
from web_performance_monitor import Config, PerformanceMonitor
from web_performance_monitor.events import Alert
from web_performance_monitor.notifiers import Notifier
from web_performance_monitor.profiling import ProfileResult


class RecordingNotifier(Notifier):
    """Captures what would be sent, like sentry-python's ``capture_events``."""

    name = "recording"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.tests = 0

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def send_test(self) -> None:
        self.tests += 1


def path_name(number: int) -> str:
    """A distinct path segment that reads as a name (``12`` -> ``bc``): without a route template
    numbers, hex and token-like segments collapse into one endpoint (``/users/{id}``)."""
    return "".join("abcdefghij"[int(d)] for d in str(number))


def random_name() -> str:
    """A random lower-case path segment that stays its own endpoint (no digits: not an id)."""
    return "".join(random.choice(string.ascii_lowercase) for _ in range(10))


_REPORT_NAME = re.compile(r"_([A-Z]+-.*)_\d{8}T\d{6}Z_[0-9a-f]{8}\.html$")


def report_endpoint(name: str) -> str:
    """The endpoint slug of a report file name, ``wpm_[<service>_]<endpoint>_<UTC>_<id>.html``
    (``report.report_filename``): ``GET-users-int-uid``."""
    match = _REPORT_NAME.search(name)
    assert match is not None, name
    return match[1]


def busy(seconds: float) -> None:
    """Burn CPU (not sleep) so the profile has frames to show."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    return tmp_path / "reports"


@pytest.fixture
def make_monitor(report_dir: Path) -> Iterator[Callable[..., PerformanceMonitor]]:
    """Build monitors with test-friendly defaults; each is closed after the test."""
    monitors: list[PerformanceMonitor] = []

    def make(**overrides: Any) -> PerformanceMonitor:
        values: dict[str, Any] = {
            "threshold_seconds": 0.05,
            "local_output_dir": str(report_dir),
            "alert_store_url": "memory://",
            "notify_retries": 0,
        }
        values.update(overrides)
        monitor = PerformanceMonitor(Config(**values))
        monitor.retry_delay = 0.01
        monitors.append(monitor)
        return monitor

    yield make
    for monitor in monitors:  # final: the sampler thread stops too
        monitor.close(timeout=5, final=True)


@pytest.fixture
def recorder() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def monitor(make_monitor: Callable[..., PerformanceMonitor],
            recorder: RecordingNotifier) -> PerformanceMonitor:
    """A monitor with a 50 ms threshold, an in-memory store and a recording notifier."""
    mon = make_monitor()
    mon.add_notifier(recorder)
    return mon


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class RedisServer:
    """A private redis-server on a free port (never the machine's shared one).

    ``stop()`` and ``start()`` again on the same port make an outage; nothing is persisted,
    so a restarted server is empty, like a Redis whose data was lost.
    """

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tests' shared private redis-server."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to stop and restart (an outage)."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


POSTGRES = shutil.which("postgres") or "/usr/local/bin/postgres"


class PostgresServer:
    """A private PostgreSQL server (``initdb`` + ``postgres``) on a free port in a temporary
    folder, trusting local connections of the user ``wpm``. As root, it runs as the system's
    ``postgres`` user (PostgreSQL refuses root)."""

    def __init__(self) -> None:
        if not os.path.exists(POSTGRES):
            pytest.skip(f"no PostgreSQL server binary ({POSTGRES} or `postgres` on PATH): "
                        "the PostgreSQL tests need one")
        self.bin = os.path.dirname(os.path.realpath(POSTGRES))
        self.port = free_port()
        self.url = f"postgresql+psycopg://wpm@127.0.0.1:{self.port}/postgres"
        self.folder = tempfile.mkdtemp(prefix="wpm-postgres-")
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres").pw_name
            except KeyError:
                self.user = "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        data = os.path.join(self.folder, "data")
        subprocess.run([os.path.join(self.bin, "initdb"), "-D", data, "-U", "wpm", "-A",
                        "trust", "--no-sync", "-E", "UTF8"], check=True, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.folder)
        self._proc = subprocess.Popen(
            [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
             "-c", "fsync=off", "-c", "full_page_writes=off"],
            user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=self.folder)
        wait_for_port(self.port)
        import psycopg

        deadline = time.monotonic() + 20
        while True:  # the port opens before the server accepts sessions
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user=wpm dbname=postgres",
                                connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(20)
            self._proc = None
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The tests' private PostgreSQL server: its SQLAlchemy URL (psycopg 3, user ``wpm``,
    database ``postgres``); skipped with the reason where no server binary is installed."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (the dev extra has it)")
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


def _raise(exc: BaseException) -> Callable[..., Any]:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return broken


def _hang(*args: Any, **kwargs: Any) -> None:
    time.sleep(1.0)


# Faults inside the monitor, injected by name; each adapter's test checks that none of them
# changes the application's status, headers or body.
FAULTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "disk full": ("web_performance_monitor.notifiers.local_file.write_atomically",
                  _raise(OSError(28, "No space left on device"))),
    "notifier hangs": ("web_performance_monitor.notifiers.local_file.LocalFileNotifier.send",
                       _hang),
    "renderer raises": ("web_performance_monitor.profiling.base.ProfileResult.render_html",
                        _raise(RuntimeError("renderer bug"))),
    "profiler fails to start": ("web_performance_monitor.profiling.sampler._get_ident",
                                _raise(ValueError("profiler"))),
    "request capture fails": ("web_performance_monitor.report.describe_request",
                              _raise(KeyError("capture"))),
    "alert store fails": ("web_performance_monitor.store.MemoryStore.claim",
                          _raise(OSError("store down"))),
    # The sampler thread's wake-up (the registry read that once raised under many threads).
    "sampler tick fails": ("web_performance_monitor.profiling.sampler.SamplingProfiler._tick",
                           _raise(RuntimeError("dictionary changed size during iteration"))),
    # Inside the alert worker's handler, past its own guards' reach of the request.
    "background worker fails": ("web_performance_monitor.monitor.build_alert",
                                _raise(RuntimeError("worker bug"))),
}

# What each fault leaves in ``get_stats()["internal_errors"]`` once a slow request went by.
FAULT_COUNTS = {
    "sampler tick fails": "sampling running requests",
    "background worker fails": "handling a slow request",
}


@pytest.fixture(params=sorted(FAULTS))
def fault(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each fault in turn, injected for the duration of the test."""
    target, replacement = FAULTS[request.param]
    monkeypatch.setattr(target, replacement)
    return str(request.param)


@pytest.fixture
def load_example() -> Iterator[Callable[[str], ModuleType]]:
    """``load_example(name)``: ``example_projects/<name>/app.py`` imported as the module
    ``example_<name>`` (in ``sys.modules``, where SQLAlchemy resolves its models' annotations).

    After the test each monitor the example made is closed for good and the module forgotten:
    a monitor left alive keeps the process's sampler thread running into later tests.
    """
    loaded: list[ModuleType] = []

    def load(name: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / "example_projects" / name / "app.py"
        spec = importlib.util.spec_from_file_location(f"example_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        loaded.append(module)
        spec.loader.exec_module(module)
        return module

    yield load
    for module in loaded:
        for value in list(vars(module).values()):
            state = getattr(value, "extensions", {}).get("wpm")  # a Flask app's extension
            monitor = getattr(state, "monitor", value)
            if isinstance(monitor, PerformanceMonitor):
                monitor.close(timeout=5, final=True)
        sys.modules.pop(module.__name__, None)


def profile_of(monitor: PerformanceMonitor, work: Callable[[], None]) -> ProfileResult:
    """The profile of ``work`` run as one request of ``monitor``, kept as if it were slow."""
    span = monitor.begin()
    work()
    result = monitor._stop_profile(span[1], keep=True)
    assert result is not None
    return result


def functions_in(alert: Alert) -> set[str]:
    """Every function name in the alert's profile samples (what the report can show)."""
    profile = alert.event.profile
    if profile is None or profile.session is None:
        return set()
    return {frame.split("\x00", 1)[0] for stack, _ in profile.session.frame_records
            for frame in stack}


def assert_own_frames_only(alerts: list[Alert]) -> None:
    """Concurrent slow requests: each profile holds its own handler, never a fast neighbour's."""
    for alert in alerts:
        names = functions_in(alert)
        assert "work_slow" in names or "work" in names, sorted(names)
        assert "fast_marker" not in names
    assert any("slow_marker" in functions_in(alert) for alert in alerts)


@pytest.fixture(scope="session")
def http_target() -> Iterator[str]:
    """The base URL of a slow HTTP service on 127.0.0.1 (``tests.http_target``), shared: it
    keeps no state."""
    with HTTPTarget() as server:
        yield server.base


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """An alert store for the ``wpm`` command tests: None (SQLite in the report folder) or a
    redis-server of the test's own (the ``wpm:`` keys of other tests never show)."""
    if request.param == "sqlite":
        return None
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url
