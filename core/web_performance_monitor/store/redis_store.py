"""Windows and history in Redis, for applications served from several hosts; every key expires."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ..history import AlertRecord, HeldBack, OpenWindow
from .base import DEFAULT_RETENTION, AlertStore, Claim, Key, Retention, matches, new_token, select

# What each field of an AlertRecord may hold; anything else read back is not our record. A
# field added to AlertRecord is added here too (the Redis tests fail until it is).
_TYPES: dict[str, tuple[type, ...]] = {
    "service": (str,), "endpoint": (str,), "at": (int, float), "duration": (int, float),
    "status": (int, type(None)), "report": (str, type(None)), "trace_id": (str, type(None)),
    "host": (str,), "pid": (int,)}


def _record_from(raw: bytes | str) -> AlertRecord | None:
    """An alert record read back from Redis; None for anything that is not one."""
    try:
        data = json.loads(raw)
        values = {name: data[name] for name in _TYPES}
    except (ValueError, TypeError, KeyError):
        return None
    for name, types in _TYPES.items():
        if not isinstance(values[name], types):
            return None
    return AlertRecord(**values)


class RedisStore(AlertStore):
    """Windows and history in Redis (``SET NX PX``), for applications served from several hosts.

    Keys, under ``prefix``, where ``<id>`` is ``json.dumps([service, endpoint])``:
    ``alert:<id>`` (the window: the claim's token, expiring with it), ``suppressed:<id>`` (slow
    requests held back since the last alert), ``held:<id>`` (a hash: count, max, last, at),
    ``endpoints`` (a sorted set of ids, scored by when they stop mattering) and ``history`` (a
    sorted set of alert records as JSON, scored by start time). Every key expires:
    a window with its claim, the others ``keep_seconds`` after they last changed.
    """

    # Keep KEYS[3] (the index) as long as the member ARGV[1] matters: until ARGV[2] (epoch
    # seconds), in ARGV[3] ms. Only ever extended.
    _TOUCH = """
        local function touch(index, member, score, ms)
            local old = redis.call('ZSCORE', index, member)
            if not old or tonumber(old) < tonumber(score) then
                redis.call('ZADD', index, score, member)
            end
            if redis.call('PTTL', index) < tonumber(ms) then
                redis.call('PEXPIRE', index, ms)
            end
        end
    """
    _CLAIM = _TOUCH + """
        if redis.call('SET', KEYS[1], ARGV[4], 'NX', 'PX', ARGV[5]) then
            local n = tonumber(redis.call('GET', KEYS[2]) or '0')
            redis.call('DEL', KEYS[2])
            touch(KEYS[3], ARGV[1], ARGV[2], ARGV[3])
            return n
        end
        return -1"""
    _SUPPRESS = _TOUCH + """
        redis.call('INCRBY', KEYS[1], ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('HINCRBY', KEYS[2], 'count', ARGV[4])
        if ARGV[5] ~= '' then
            local worst = tonumber(redis.call('HGET', KEYS[2], 'max') or '0')
            if tonumber(ARGV[5]) > worst then
                redis.call('HSET', KEYS[2], 'max', ARGV[5])
            end
            redis.call('HSET', KEYS[2], 'last', ARGV[5], 'at', ARGV[6])
        end
        redis.call('PEXPIRE', KEYS[2], ARGV[3])
        touch(KEYS[3], ARGV[1], ARGV[2], ARGV[3])
        return 0"""
    _RELEASE = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('DEL', KEYS[1])
            redis.call('INCRBY', KEYS[2], ARGV[2])
            redis.call('PEXPIRE', KEYS[2], ARGV[3])
        end
        return 0"""
    # KEYS[1] history; ARGV: the record ('' for none), its start, the oldest start kept, the
    # count kept (0: all), the key's ms; then its index (KEYS[2]) entry: member, score, ms.
    # Returns how many records were dropped.
    _RECORD = _TOUCH + """
        if ARGV[1] ~= '' then
            redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
            touch(KEYS[2], ARGV[6], ARGV[7], ARGV[8])
        end
        local dropped = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
        if tonumber(ARGV[4]) > 0 then
            dropped = dropped + redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
        end
        if redis.call('EXISTS', KEYS[1]) == 1 then
            redis.call('PEXPIRE', KEYS[1], ARGV[5])
        end
        return dropped"""

    def __init__(self, url: str, prefix: str = "wpm:",
                 retention: Retention = DEFAULT_RETENTION) -> None:
        import redis  # the [redis] extra

        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._prefix = prefix
        self.retention = retention
        self._keep_ms = max(1, int(retention.keep_seconds * 1000))
        self._claim = self._client.register_script(self._CLAIM)
        self._suppress = self._client.register_script(self._SUPPRESS)
        self._release = self._client.register_script(self._RELEASE)
        self._record = self._client.register_script(self._RECORD)

    @staticmethod
    def _id(key: Key) -> str:
        return json.dumps(list(key))

    def _key(self, kind: str, key: Key) -> str:
        return f"{self._prefix}{kind}:{self._id(key)}"

    @property
    def _index(self) -> str:
        return f"{self._prefix}endpoints"

    def _keys(self) -> list[Key]:
        """Every endpoint the store still knows (from the index)."""
        found = []
        for member in self._client.zrangebyscore(self._index, time.time(), "+inf"):
            try:
                service, endpoint = json.loads(member if isinstance(member, bytes) else b"")
            except (ValueError, TypeError):
                continue
            if isinstance(service, str) and isinstance(endpoint, str):
                found.append((service, endpoint))
        return found

    def _index_args(self, key: Key, seconds: float) -> list[Any]:
        """The index entry for ``key``, mattering for ``seconds`` more: member, score, ms."""
        seconds = max(seconds, self.retention.keep_seconds)
        return [self._id(key), repr(time.time() + seconds), max(1, int(seconds * 1000))]

    def claim(self, endpoint: str, window_seconds: float, *, service: str = "") -> Claim | None:
        key, token = (service, endpoint), new_token()
        window_ms = max(1, int(window_seconds * 1000))
        result = int(self._claim(
            keys=[self._key("alert", key), self._key("suppressed", key), self._index],
            args=[*self._index_args(key, window_seconds), token, window_ms]))
        return None if result < 0 else Claim(endpoint, token, result, service)

    def _add_held(self, key: Key, count: int, duration: float | None, at: float) -> None:
        self._suppress(
            keys=[self._key("suppressed", key), self._key("held", key), self._index],
            args=[*self._index_args(key, 0.0), count,
                  "" if duration is None else repr(duration), repr(at)])

    def suppress(self, endpoint: str, count: int = 1, *, service: str = "",
                 duration: float = 0.0, at: float | None = None) -> None:
        self._add_held((service, endpoint), count, duration, time.time() if at is None else at)

    def release(self, claim: Claim) -> None:
        key = (claim.service, claim.endpoint)
        self._release(keys=[self._key("alert", key), self._key("suppressed", key)],
                      args=[claim.token, claim.suppressed_before + 1, self._keep_ms])

    def merge(self, windows: dict[Key, tuple[float, str]], suppressed: dict[Key, int],
              records: Sequence[AlertRecord] = ()) -> None:
        now = time.time()
        for key, (expires_at, token) in windows.items():
            if expires_at > now:
                seconds = expires_at - now
                self._client.set(self._key("alert", key), token, nx=True,
                                 px=max(1, int(seconds * 1000)))
                self._client.zadd(self._index, {self._id(key): now + max(
                    seconds, self.retention.keep_seconds)}, gt=True)
        for key, count in suppressed.items():
            self._add_held(key, count, None, now)
        for record in records:
            self.record(record)

    def _trim(self, record: AlertRecord | None, now: float) -> int:
        """Add ``record`` (if any) and drop what the retention does not keep; how many went."""
        entry: list[Any] = ["", 0, "", 0, 0]
        if record is not None:
            entry = [json.dumps({**record.as_dict(), "id": new_token()}), repr(record.at),
                     *self._index_args((record.service, record.endpoint), 0.0)]
        return int(self._record(
            keys=[f"{self._prefix}history", self._index],
            args=[entry[0], entry[1], repr(self.retention.oldest(now)),
                  self.retention.history_count, self._keep_ms, *entry[2:]]))

    def record(self, alert: AlertRecord) -> None:
        self._trim(alert, time.time())

    def history(self, service: str | None = None, endpoint: str | None = None,
                since: float | None = None, limit: int | None = 100) -> list[AlertRecord]:
        raw = self._client.zrevrangebyscore(f"{self._prefix}history", "+inf",
                                            since if since is not None else "-inf")
        records = [r for r in (_record_from(item) for item in raw
                               if isinstance(item, bytes | str)) if r is not None]
        return select(records, service, endpoint, since, limit)

    def held(self, service: str | None = None) -> list[HeldBack]:
        keys = [key for key in self._keys() if matches(key, service)]
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._key("held", key))
        found = []
        for key, values in zip(keys, pipe.execute(), strict=True):
            try:
                count = int(values.get(b"count", 0))
                numbers = [float(values.get(name, 0.0)) for name in (b"max", b"last", b"at")]
            except ValueError:
                continue
            if count > 0:
                found.append(HeldBack(key[0], key[1], count, *numbers))
        return found

    def windows(self, service: str | None = None) -> list[OpenWindow]:
        keys = [key for key in self._keys() if matches(key, service)]
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(self._key("alert", key))
            pipe.get(self._key("suppressed", key))
        answers, now = pipe.execute(), time.time()
        found = []
        for i, key in enumerate(keys):
            ttl, held = answers[2 * i], answers[2 * i + 1]
            if ttl > 0:
                found.append(OpenWindow(key[0], key[1], now + ttl / 1000,
                                        int(held) if held and held.isdigit() else 0))
        return sorted(found, key=lambda w: w.until)

    def reset_window(self, service: str | None = None, endpoint: str | None = None) -> int:
        keys = [key for key in self._keys() if matches(key, service, endpoint)]
        if not keys:
            return 0
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.delete(self._key("alert", key))
        return sum(pipe.execute())

    def prune(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        self._client.zremrangebyscore(self._index, "-inf", f"({now!r}")
        return self._trim(None, now)

    def close(self) -> None:
        self._client.close()
