"""Alert de-duplication and history: at most one alert per endpoint per window, across threads,
processes, restarts and (with Redis) hosts; and what each endpoint alerted and held back.

An endpoint's identity in the store is ``(service, endpoint)`` (``Key``): two applications with
the same route sharing a report folder, a SQLite file or a Redis never silence each other.

A store answers one question atomically: "may I alert for this endpoint now?" (``claim``). When
the answer is no, the slow request is counted (``suppress``) and the next claim returns that
count, so the next alert can say how many slow requests went unreported. When every notifier
fails, ``release`` gives the window back so that a later slow request can try again.

It also remembers, for the team's view (``history``; read by the index page and ``wpm``), every
alert that went out (``record``) and the slow requests each window held back (``held``), bounded
by the report retention settings (``Retention``), and lets a user see and reset open windows.

Stores heal (issue 14). A SQLite file that is not ours (corrupt bytes, another schema, a
trigger planted by another user) is moved aside and recreated, with one warning; a file owned by
another user or a symlink is refused; a file of the previous version is migrated. ``FailoverStore``
answers from a process-wide in-memory store while the configured one is down, tries it again
every ``retry_seconds``, and hands it the windows, counts and alerts taken meanwhile. Nothing is
kept forever: Redis keys expire and old SQLite rows are deleted.

The contract and the retention are in ``base``; one module per store (``memory``,
``sqlite_store``, ``redis_store``) and ``failover``; ``open_store`` picks one by URL.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .base import DAY, DEFAULT_RETENTION, AlertStore, Claim, Key, Retention
from .failover import FailoverStore
from .memory import MemoryStore
from .redis_store import RedisStore
from .sqlite_store import SQLiteStore

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["DAY", "AlertStore", "Claim", "FailoverStore", "Key", "MemoryStore", "RedisStore",
           "Retention", "SQLiteStore", "configured_store", "open_store"]


def open_store(url: str | None, output_dir: str,
               retention: Retention = DEFAULT_RETENTION) -> AlertStore:
    """The store named by ``alert_store_url`` (None: a SQLite file in ``output_dir``)."""
    if url is None:
        return SQLiteStore(os.path.join(output_dir, ".wpm-alerts.sqlite3"), retention)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryStore(retention)
    if scheme == "sqlite":
        return SQLiteStore(url.split("://", 1)[1] or url, retention)
    return RedisStore(url, retention=retention)


def configured_store(config: Config) -> AlertStore:
    """The store a monitor with ``config`` uses, with its retention (``Retention.from_config``);
    ``config`` has its paths resolved (``files.resolve_paths``)."""
    return open_store(config.alert_store_url, config.local_output_dir,
                      Retention.from_config(config))
