"""The shared Redis cache, degrading to a per-process memory cache while Redis is unreachable.

Redis holds the cache, the API's rate-limit counters and a copy of the sessions. None of it is the only
copy of anything (sessions are written through to the database), so losing Redis must not take the site
down: while it is unreachable every cache call goes to a memory cache in this process instead (so pages
still cache and rate limits still count, per process rather than site-wide), the degradation is logged
once, and Redis is tried again every few seconds. When it answers again that is logged once too, and the
keys written during the outage are deleted from Redis, so a session changed meanwhile (a sign-in, a game
answer) is read again from the database rather than from the copy Redis kept from before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)
T = TypeVar("T")

# What an unreachable (or restarting, or failed-over read-only) Redis raises; other errors are bugs.
UNREACHABLE: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                                                redis.exceptions.ReadOnlyError, OSError)
TOUCHED_LIMIT = 100_000  # keys remembered during an outage, to delete from Redis when it is back


class _State:
    """What this process knows of one Redis: down since when, when to try it again, keys written meanwhile."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.next_try = 0.0
        self.touched: set[tuple[str, int | None]] = set()


_STATES: dict[str, _State] = {}
_STATES_LOCK = threading.Lock()


class FallbackRedisCache(RedisCache):
    """Django's RedisCache that serves from a local memory cache while Redis cannot be reached.

    OPTIONS may set ``RETRY_AFTER`` (seconds between attempts to reach Redis again, default 5); the rest go
    to the Redis client, as for RedisCache (short socket timeouts are set unless given).
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("RETRY_AFTER", 5.0))
        # A Redis that does not answer must cost a request well under a second, not the OS's TCP timeout.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 1.0)
        params["OPTIONS"] = options
        super().__init__(server, params)
        local = {k: v for k, v in params.items() if k != "OPTIONS"}
        # Django makes one cache object per thread; the fallback's memory (LocMemCache shares it by name) and
        # the knowledge that Redis is down are per process, so an outage is logged once, not once per thread.
        name = f"{server}|{params.get('KEY_PREFIX', '')}"
        self.fallback = LocMemCache(f"featurepedia-fallback:{name}", local)
        with _STATES_LOCK:
            self._state = _STATES.setdefault(name, _State())

    @property
    def degraded(self) -> bool:
        """Whether Redis is currently taken as unreachable (calls go to the local cache)."""
        return self._state.down_since is not None

    def _call(self, primary: Callable[[], T], local: Callable[[], T], keys: Iterable[Any] = (),
              version: int | None = None, writes: bool = False) -> T:
        if self._state.down_since is not None and time.monotonic() < self._state.next_try:
            return self._local(local, keys, version, writes)
        try:
            result = primary()
        except UNREACHABLE as err:
            self._went_down(err)
            return self._local(local, keys, version, writes)
        if self._state.down_since is not None:
            self._came_back()
        return result

    def _local(self, local: Callable[[], T], keys: Iterable[Any], version: int | None, writes: bool) -> T:
        if writes:
            with self._state.lock:
                if len(self._state.touched) < TOUCHED_LIMIT:
                    self._state.touched.update((str(k), version) for k in keys)
        return local()

    def _went_down(self, err: BaseException) -> None:
        with self._state.lock:
            first = self._state.down_since is None
            if first:
                self._state.down_since = time.monotonic()
            self._state.next_try = time.monotonic() + self.retry_after
        if first:
            log.error("Redis is unreachable (%s): the cache, rate limits and session copies fall back to this "
                      "process's memory until it is back (tried again every %.0f s)", err, self.retry_after)

    def _came_back(self) -> None:
        with self._state.lock:
            if self._state.down_since is None:
                return
            down_for = time.monotonic() - self._state.down_since
            self._state.down_since = None
            touched, self._state.touched = self._state.touched, set()
        by_version: dict[int | None, list[str]] = {}
        for key, version in touched:
            by_version.setdefault(version, []).append(key)
        try:
            for version, keys in by_version.items():
                super().delete_many(keys, version=version)
        except UNREACHABLE as err:  # gone again at once: keep degrading, forget nothing
            with self._state.lock:
                self._state.touched |= touched
            self._went_down(err)
            return
        self.fallback.clear()
        log.warning("Redis is reachable again after %.0f s: the shared cache is back (%d key(s) written "
                    "meanwhile dropped from it)", down_for, len(touched))

    # Django's cache API, each call guarded. ------------------------------------------------------------

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(lambda: super(FallbackRedisCache, self).add(key, value, timeout, version),
                          lambda: self.fallback.add(key, value, timeout, version), [key], version, writes=True)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call(lambda: super(FallbackRedisCache, self).get(key, default, version),
                          lambda: self.fallback.get(key, default, version))

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._call(lambda: super(FallbackRedisCache, self).set(key, value, timeout, version),
                   lambda: self.fallback.set(key, value, timeout, version), [key], version, writes=True)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(lambda: super(FallbackRedisCache, self).touch(key, timeout, version),
                          lambda: self.fallback.touch(key, timeout, version), [key], version, writes=True)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._call(lambda: super(FallbackRedisCache, self).delete(key, version),
                          lambda: self.fallback.delete(key, version), [key], version, writes=True)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._call(lambda: super(FallbackRedisCache, self).get_many(keys, version),
                          lambda: self.fallback.get_many(keys, version))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._call(lambda: super(FallbackRedisCache, self).has_key(key, version),
                          lambda: self.fallback.has_key(key, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._call(lambda: super(FallbackRedisCache, self).incr(key, delta, version),
                          lambda: self.fallback.incr(key, delta, version), [key], version, writes=True)

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list:
        return self._call(lambda: super(FallbackRedisCache, self).set_many(data, timeout, version),
                          lambda: self.fallback.set_many(data, timeout, version), list(data), version,
                          writes=True)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        keys = list(keys)
        self._call(lambda: super(FallbackRedisCache, self).delete_many(keys, version),
                   lambda: self.fallback.delete_many(keys, version), keys, version, writes=True)

    def clear(self) -> bool:
        self.fallback.clear()
        return self._call(lambda: super(FallbackRedisCache, self).clear(), lambda: True)
