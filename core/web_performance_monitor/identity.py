"""Which service an app is and what serves it: the defaults behind ``service_name``.

The service is part of every endpoint's identity (the store, the report, the alert), so two apps
sharing a report folder, a SQLite file or a Redis never silence each other's ``GET /slow``. When
``service_name`` is not set, the adapter that wraps the app names it:

- Flask: the app's name (``Flask(import_name).name``: the import name, or the script's name for
  ``__main__``), Django: the settings module's top package (``mysite`` for ``mysite.settings``),
  Sanic: ``app.name``;
- the WSGI and ASGI middleware and the decorator: the wrapped callable's module, its top package
  (``shop`` for ``shop.wsgi.application``), looked for behind the framework's own objects
  (``service_of``).

The framework string says what served the request ("Flask 3.1.3", "FastAPI 0.165.0", "WSGI",
"function"); reports and the start-up line show it.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# Top packages of the frameworks a middleware can recognise behind the callable it wraps, with
# the name people call them by and their distribution on PyPI. A callable from one of these
# says what serves the app, never which app it is.
FRAMEWORKS: dict[str, tuple[str, str]] = {
    "fastapi": ("FastAPI", "fastapi"),
    "starlette": ("Starlette", "starlette"),
    "flask": ("Flask", "flask"),
    "django": ("Django", "django"),
    "sanic": ("Sanic", "sanic"),
    "werkzeug": ("Werkzeug", "werkzeug"),
    "falcon": ("Falcon", "falcon"),
    "bottle": ("Bottle", "bottle"),
    "pyramid": ("Pyramid", "pyramid"),
    "quart": ("Quart", "quart"),
    "litestar": ("Litestar", "litestar"),
}
# Where an app object keeps the next callable or its routes; followed this deep at most.
_INNER = ("__self__", "app", "_base_app", "router", "wsgi_app", "application")
_DEPTH = 12


def framework_label(display: str, distribution: str) -> str:
    """``"Flask 3.1.3"``: the name and the installed version (the name alone when unknown)."""
    try:
        return f"{display} {version(distribution)}"
    except PackageNotFoundError:
        return display


def top_package(module: str | None) -> str:
    """``shop`` for ``shop.wsgi``; a script run as ``__main__`` is named by its file
    (``app`` for ``python app.py``), as Flask names such an app."""
    name = (module or "").partition(".")[0]
    if name == "__main__":
        path = getattr(sys.modules.get("__main__"), "__file__", None)
        return os.path.splitext(os.path.basename(path))[0] if path else name
    return name


def _module_of(obj: Any) -> str:
    """The module an object was defined in: a function's own, an instance's class's."""
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        module = getattr(type(obj), "__module__", "")
    return str(module)


def _chain(app: Any) -> list[Any]:
    """``app`` and what it wraps (bound method's owner, ``.app``, a router...), outermost first."""
    found: list[Any] = []
    queue = [app]
    while queue and len(found) < _DEPTH:
        current = queue.pop(0)
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        queue.extend(getattr(current, name, None) for name in _INNER)
    return found


def _route_modules(obj: Any, depth: int = 0) -> list[str]:
    """The modules of a router's endpoints (Starlette, FastAPI): where the user's code is."""
    modules: list[str] = []
    routes = getattr(obj, "routes", None)
    if not isinstance(routes, list):
        return modules
    for route in routes[:50]:
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None:
            modules.append(_module_of(endpoint))
        # FastAPI's included routers, Starlette's mounts
        for inner in (getattr(route, "original_router", None), getattr(route, "app", None)):
            if inner is not None and depth < 4:
                modules.extend(_route_modules(inner, depth + 1))
    return modules


def service_of(app: Any) -> str:
    """The default service name of a WSGI/ASGI callable or a decorated function.

    The callable's module's top package, unless that is a framework's: then the app's own
    name (Flask's ``name``, Sanic's ``name``), or the module of the first route endpoint the
    user wrote (Starlette, FastAPI). ``"app"`` when nothing better is found.
    """
    chain = _chain(app)
    for obj in chain:
        name = getattr(obj, "name", None)  # a Flask (or Quart) app names itself
        if isinstance(getattr(obj, "import_name", None), str) and isinstance(name, str):
            return name
        top = top_package(_module_of(obj))
        if top and top not in FRAMEWORKS and top != "web_performance_monitor":
            return top
    for obj in chain:
        for module in _route_modules(obj):
            top = top_package(module)
            if top and top not in FRAMEWORKS and top != "web_performance_monitor":
                return top
    return "app"


def framework_of(app: Any, default: str) -> str:
    """What serves ``app``: the innermost recognised framework (FastAPI before the Starlette
    it builds on), with its version; ``default`` ("WSGI", "ASGI") when none is recognised."""
    found = [top_package(_module_of(obj)) for obj in _chain(app)]
    for top in FRAMEWORKS:  # in the table's order: FastAPI wins over Starlette
        if top in found and top != "werkzeug":
            return framework_label(*FRAMEWORKS[top])
    return default


def timed_inside(app: Any, monitor: Any, middleware: type) -> bool:
    """Whether ``monitor``'s own ``middleware`` already times the requests ``app`` serves.

    Looked for, once when a middleware is made, along the ``.app`` chain of wrappers and in a
    Starlette/FastAPI app's ``add_middleware`` list (``user_middleware``: the stack is built at
    the first request, after this). A README that shows both ``app.add_middleware(...)`` and
    ``app = monitor.create_asgi_middleware()(app)`` must not time each request twice: the
    second timing counted every slow request once more as held back.
    """
    for _ in range(16):  # wrappers of wrappers; a cycle must not hang start-up
        if app is None:
            return False
        if isinstance(app, middleware) and getattr(app, "monitor", None) is monitor:
            return True
        for entry in getattr(app, "user_middleware", None) or ():
            options = getattr(entry, "kwargs", None) or getattr(entry, "options", None) or {}
            if getattr(entry, "cls", None) is middleware and options.get("monitor") is monitor:
                return True
        app = getattr(app, "app", None)
    return False
