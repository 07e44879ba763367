"""Path segments that identify or authenticate: ids collapsed for endpoints, tokens masked.

Without a route template (a plain WSGI or ASGI app, a 404) the raw path would be the endpoint:
``GET /reset/S3CR3T`` in the statistics, the report's file name, the log line and the chat
message, and one endpoint per scanned path. ``endpoint_path`` collapses the segments that are
values, not names: numbers ``{id}``, UUIDs ``{uuid}``, hex strings ``{hex}`` and token-like
strings ``{token}``. ``mask_segments`` masks the token-like ones in a path shown in a report.
"""

from __future__ import annotations

import re
from typing import Any

_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]{8,}")
_PARTS = re.compile(r"[-_.~,:;+=@]+")
# A word with a version or ordinal (oauth2, page10, v2beta, 2fa): a name, not a value.
_NAME_WITH_NUMBER = re.compile(r"[A-Za-z]+\d{1,2}|\d{1,2}[A-Za-z]+|[a-z]{1,3}\d{1,2}[a-z]{1,6}")
_BASE64ISH = re.compile(r"[A-Za-z0-9+/=%_-]+")

# A variable of a werkzeug/Flask rule (``<name>``, ``<int:name>``, ``<path:name>``) or of a
# Starlette route (``{name}``, ``{name:path}``).
_VARIABLE = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>"
                       r"|\{(?P<sname>\w+)(?::(?P<sconv>\w+))?\}")

_CACHE_SIZE = 4096
# Raw path -> endpoint, filled by ``endpoint_path``. Middlewares read it first through
# ``known_endpoint`` (a C-level ``dict.get``): a hit costs no Python call on the request path.
_endpoints: dict[str, str] = {}
known_endpoint = _endpoints.get


def _token_like(part: str) -> bool:
    """A value no person would type: letters and digits mixed, or long and random-looking."""
    if len(part) < 6:
        return False
    if _UUID.fullmatch(part) or (_HEX.fullmatch(part) and not part.isalpha()):
        return True
    has_digit = any(c.isdigit() for c in part)
    has_alpha = any(c.isalpha() for c in part)
    if has_digit and has_alpha and not _NAME_WITH_NUMBER.fullmatch(part):
        return True
    return len(part) >= 16 and _random_looking(part)


def _random_looking(text: str, strict: bool = False) -> bool:
    """Base64-ish characters, upper and lower case mixed, or with digits (``strict``: both)."""
    if not _BASE64ISH.fullmatch(text):
        return False
    mixed_case = any(c.isupper() for c in text) and any(c.islower() for c in text)
    has_digit = any(c.isdigit() for c in text)
    return (mixed_case and has_digit) if strict else (mixed_case or has_digit)


def segment_kind(segment: str) -> str | None:
    """``id``, ``uuid``, ``hex`` or ``token`` for a value segment; None for a name."""
    if not segment:
        return None
    if segment.isdigit():
        return "id"
    if _UUID.fullmatch(segment):
        return "uuid"
    if len(segment) >= 8 and _HEX.fullmatch(segment) and not segment.isalpha():
        return "hex"
    parts = _PARTS.split(segment)
    if len(parts) == 1:
        return "token" if _token_like(segment) else None
    # A slug (my-first-post-2024, x86_64) is judged part by part; a long random string with
    # separators (URL-safe base64) as a whole.
    long_random = len(segment) >= 24 and _random_looking(segment, strict=True)
    return "token" if long_random or any(_token_like(p) for p in parts) else None


def route_values(route: str, path: str) -> dict[str, str] | None:
    """The path's values by the route's variable names (``/reset/<token>`` and ``/reset/S``:
    ``{"token": "S"}``), for adapters that give the route template but not the values (Flask:
    its request object is gone once the response started). None when the path does not fit.
    """
    pattern: list[str] = []
    names: list[str] = []
    end = 0
    for match in _VARIABLE.finditer(route):
        pattern.append(re.escape(route[end:match.start()]))
        name = match["name"] or match["sname"]
        wide = (match["conv"] or match["sconv"]) == "path"
        pattern.append(f"(?P<v{len(names)}>{'.+' if wide else '[^/]+'})")
        names.append(name)
        end = match.end()
    if not names:
        return None
    pattern.append(re.escape(route[end:]))
    found = re.search("".join(pattern) + "/?$", path)
    if found is None:
        return None
    return {name: found[f"v{i}"] for i, name in enumerate(names)}


def mask_segments(path: str, mask: str) -> str:
    """``path`` with its token-like segments (not plain numbers) replaced by ``mask``."""
    segments = path.split("/")
    changed = False
    for i, segment in enumerate(segments):
        kind = segment_kind(segment)
        if kind is not None and kind != "id":
            segments[i] = mask
            changed = True
    return "/".join(segments) if changed else path


def endpoint_path(path: str) -> str:
    """The endpoint of a raw path: value segments collapsed to ``{id}``, ``{uuid}``, ...

    Called for every request that has no route template, so it is cached (a bounded dict,
    emptied when full: a path scan costs recomputation, never memory).
    """
    known = _endpoints.get(path)
    if known is not None:
        return known
    segments = path.split("/")
    for i, segment in enumerate(segments):
        kind = segment_kind(segment)
        if kind is not None:
            segments[i] = "{" + kind + "}"
    collapsed = "/".join(segments)
    if len(_endpoints) >= _CACHE_SIZE:
        _endpoints.clear()
    _endpoints[path] = collapsed
    return collapsed


# (route template, loose) -> its compiled pattern anchored at the path's end.
_tails: dict[tuple[str, bool], re.Pattern[str]] = {}


def _tail_pattern(route: str, loose: bool) -> re.Pattern[str]:
    """``route`` as a regex matching the end of a served path: a ``path`` converter as ``.+``,
    other variables as ``[^/]+``; ``loose``: every variable without a converter as ``.+`` too
    (for a template that dropped its converters, like Starlette's ``path_format``)."""
    key = (route, loose)
    pattern = _tails.get(key)
    if pattern is None:
        parts: list[str] = []
        end = 0
        for match in _VARIABLE.finditer(route):
            parts.append(re.escape(route[end:match.start()]))
            converter = match["conv"] or match["sconv"]
            spans = converter == "path" or (loose and converter is None)
            parts.append(".+" if spans else "[^/]+")
            end = match.end()
        parts.append(re.escape(route[end:]))
        pattern = re.compile("".join(parts) + "/?$")
        if len(_tails) >= _CACHE_SIZE:
            _tails.clear()
        _tails[key] = pattern
    return pattern


def fits(route: str, path: str) -> bool:
    """Whether ``path`` ends with what ``route`` matches (its variables as one segment each, a
    ``path`` converter as several)."""
    return _tail_pattern(route, False).search(path) is not None


def served_route(route: str, path: str, values: dict[str, Any] | None = None,
                 wide: bool | None = None) -> str:
    """The route as served: ``route`` (the template the innermost router matched) with the
    prefix the path has before it (a mount, an included router, ``root_path``).

    FastAPI 0.165 keeps an included router's route un-prefixed in the scope
    (``/users/{uid}`` for ``/api/v1/users/3`` and ``/api/v2/users/3`` alike), and a Starlette
    ``Mount``'s prefix is only in ``root_path``: without this the two versions of an API would
    be one endpoint, and the second would never alert. The prefix's values are named from
    ``values`` (the path parameters: ``/orgs/acme`` under ``Mount("/orgs/{org}")`` is
    ``/orgs/{org}``) or collapsed like a raw path (``/tenants/{id}``).

    ``wide``: whether a variable of ``route`` spans segments (a ``path`` converter; found in
    ``route`` when not given, for templates that dropped their converters, like Starlette's
    ``path_format``). Costs two ``str.count`` calls when the path has no prefix (every request
    of most apps).
    """
    depth = route.count("/")
    if wide is None:
        wide = ":path" in route
    if not wide and path.count("/") == depth:
        return route
    if wide:
        found = _tail_pattern(route, ":path" not in route).search(path)
        prefix = path[:found.start()] if found is not None else ""
    else:
        prefix = path.rsplit("/", depth)[0] if path.count("/") > depth else ""
    if not prefix or prefix == "/":
        return route
    if values and len(values) > route.count("{") + route.count("<"):
        named = {str(value): "{" + name + "}" for name, value in values.items()
                 if "{" + name not in route and ":" + name + ">" not in route
                 and "<" + name + ">" not in route}
        prefix = "/".join(named.get(segment) or segment for segment in prefix.split("/"))
    return endpoint_path(prefix) + route
