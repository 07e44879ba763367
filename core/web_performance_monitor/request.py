"""The small request record adapters fill in, and its masked, parsed description for reports.

Adapters only copy what their framework already has (method, path, route, headers, the body
prefix the app read). Everything that costs time (parsing, masking, decoding) happens here, and
only for requests that turned out slow, on the background worker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from .masking import Masker, is_auth_path
from .paths import route_values
from .tracing import extract_trace_ids

# Requests that matched no route (404/405) share one endpoint instead of one per random path.
UNMATCHED_ROUTE = "<unmatched>"

MAX_FIELDS = 200
MAX_VALUE_CHARS = 1000
MAX_HEADER_CHARS = 500


@dataclass(slots=True)
class RequestRecord:
    """What an adapter knows about one request, unparsed and unmasked."""

    method: str
    path: str
    route: str | None = None
    query_string: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # lower-case names
    client: str | None = None
    body: bytes | None = None  # the prefix of the body the app read, at most max_body_bytes
    body_size: int | None = None  # the declared or observed full size
    # Fields a framework already parsed (e.g. a multipart form the app read), used when the raw
    # body is not available: (name, value) pairs, and files as name/filename/content_type/size.
    form: list[tuple[str, str]] | None = None
    files: list[dict[str, Any]] | None = None
    # The path's values by the route's names (Flask ``view_args``, Starlette ``path_params``,
    # Sanic ``match_info``, Django ``resolver_match.kwargs``): masked by name in the report.
    path_params: dict[str, Any] | None = None

    @property
    def body_truncated(self) -> bool:
        """Whether the captured prefix is shorter than the whole body."""
        return self.body is not None and (self.body_size or 0) > len(self.body)

    def header(self, name: str) -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return ""


def wsgi_text(value: str) -> str:
    """A PEP 3333 string (bytes decoded as latin-1) shown as UTF-8, bad bytes replaced.

    Strings that are already real text (characters beyond latin-1) pass through.
    """
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value
    return raw.decode("utf-8", "replace")


def _clip(value: Any, limit: int = MAX_VALUE_CHARS) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... [{len(value) - limit} more characters]"
    return value


def _human_size(size: int | None) -> str:
    return "unknown size" if size is None else f"{size:,} bytes"


def describe_body(record: RequestRecord, masker: Masker, auth: bool = False) -> dict[str, Any]:
    """Parse the captured body by content type (masked); summarise what must not be stored.

    ``auth``: the request is part of an authentication flow (``masking.is_auth_path``), where
    ``code`` and ``state`` are credentials.
    """
    content_type = record.header("content-type")
    media = content_type.split(";", 1)[0].strip().lower()
    size = record.body_size if record.body_size is not None else len(record.body or b"")
    if not record.body and (record.form or record.files):
        return {"form": [(k, _clip(v)) for k, v in masker.pairs(record.form or [], auth)],
                "files": [{**f, "filename": _clip(masker.text(str(f.get("filename"))), 200)}
                          for f in (record.files or [])[:MAX_FIELDS]],
                "summary": f"form parsed by the application, {_human_size(size)}; "
                           "file contents not stored"}
    if not record.body:
        if size:
            return {"summary": f"{_human_size(size)} ({media or 'no content type'}), "
                               "not read by the application"}
        return {}
    if record.body_truncated:
        return {"summary": f"{_human_size(size)} ({media or 'no content type'}), larger than "
                           "the capture limit, not stored"}
    if media == "application/json" or media.endswith("+json"):
        try:
            return {"json": masker.value(json.loads(record.body), auth=auth)}
        except (ValueError, RecursionError) as exc:
            return {"summary": f"malformed JSON, {_human_size(size)}: {type(exc).__name__}"}
    if media == "application/x-www-form-urlencoded":
        text = record.body.decode("utf-8", "replace")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            return {"summary": f"form with more than {MAX_FIELDS} fields, {_human_size(size)}"}
        return {"form": [(k, _clip(v)) for k, v in masker.pairs(pairs, auth)]}
    if media == "multipart/form-data":
        return _describe_multipart(record.body, content_type, size, masker, auth)
    return {"summary": f"{media or 'body without content type'}, {_human_size(size)}, not stored"}


def _describe_multipart(body: bytes, content_type: str, size: int, masker: Masker,
                        auth: bool) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return {"summary": f"unparseable multipart body, {_human_size(size)}"}
    fields: list[tuple[str, Any]] = []
    files: list[dict[str, Any]] = []
    for part in list(message.iter_parts())[:MAX_FIELDS]:
        name = part.get_param("name", header="content-disposition") or ""
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        if filename is not None:
            files.append({"field": str(name), "filename": masker.text(str(filename)),
                          "content_type": part.get_content_type(), "size": len(payload)})
        else:
            fields.append((str(name), payload.decode("utf-8", "replace")))
    return {"form": [(k, _clip(v)) for k, v in masker.pairs(fields, auth)], "files": files,
            "summary": f"multipart, {_human_size(size)}; file contents not stored"}


def _path_params(record: RequestRecord) -> dict[str, Any] | None:
    """The path's values by name: from the adapter, or read off the route template."""
    if record.path_params is not None or not record.route or record.route == UNMATCHED_ROUTE:
        return record.path_params
    return route_values(record.route, record.path)


def describe_request(record: RequestRecord, masker: Masker,
                     trace_headers: list[str]) -> dict[str, Any]:
    """Everything a report shows about the request, masked (by key and by value), size-bounded."""
    try:
        query = parse_qsl(record.query_string, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        query = parse_qsl(record.query_string, keep_blank_values=True)[:MAX_FIELDS]
    auth = is_auth_path(record.path) or bool(record.route and is_auth_path(record.route))
    headers = masker.pairs(record.headers[:MAX_FIELDS], auth)
    return {
        "method": record.method,
        "path": masker.path(record.path, _path_params(record), record.route),
        "route": record.route,
        "query": [(k, _clip(v)) for k, v in masker.pairs(query, auth)],
        "headers": [(k, _clip(v, MAX_HEADER_CHARS)) for k, v in headers],
        "client": record.client,
        "body": describe_body(record, masker, auth),
        "trace": extract_trace_ids(dict(record.headers), trace_headers),
    }
