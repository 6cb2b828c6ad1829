"""Fixed-window attempt counters in one store shared by every limit (login, sign-up, resend).

Counting is one atomic step whatever the store: taking an attempt adds one to the counter and
reads the new value together, so parallel attempts - in one process or in many - can never all
pass before the first is counted (a read followed by a write would let them).

- Without `REDIS_URL` the counters live in this process's memory (`MemoryLimitStore`): right for
  one process; expired windows are purged as time passes, so memory does not grow with the
  number of clients ever seen.
- With `REDIS_URL` they live in Redis (`RedisLimitStore`), shared by every process and instance:
  `INCR` and the window's expiry run as one Lua script, one round trip. When Redis cannot be
  reached (down, or slower than `REDIS_TIMEOUT_SECONDS`) the guarded request is refused with 503
  (`LimitStoreUnavailable`): limits are never silently skipped, and nothing waits for long.

`build_limit_store(settings)` is the one place that chooses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from ticketflow.lib.errors import ServiceUnavailable, TooManyAttempts
from ticketflow.lib.i18n import N_

if TYPE_CHECKING:
    from ticketflow.settings import Settings

REDIS_PREFIX = "ticketflow:limit:"
PURGE_EVERY_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 2.0
"""How long one Redis connect or command may take before the request is refused with 503."""

Result = TypeVar("Result")


class LimitStoreUnavailable(ServiceUnavailable):
    detail = N_("attempt limits cannot be checked right now, try again shortly")


HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
"""Add one attempt; the first of a window sets the window's expiry."""
GIVE_BACK_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""
"""Take one attempt back, never below zero, never reviving an expired counter."""


class LimitStore(Protocol):
    """Counters with an expiry; `hit` adds one and returns the new count in one atomic step."""

    async def hit(self, key: str, expires_in: int) -> int: ...

    async def give_back(self, key: str) -> None: ...

    async def count(self, key: str) -> int: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryLimitStore:
    """Counters in this process's memory; expired ones are dropped every `PURGE_EVERY_SECONDS`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counters: dict[str, tuple[int, float]] = {}
        self._next_purge = clock() + PURGE_EVERY_SECONDS

    def __len__(self) -> int:
        return len(self._counters)

    def _live(self, key: str, now: float) -> int:
        count, expires_at = self._counters.get(key, (0, now))
        return count if expires_at > now else 0

    def _purge(self, now: float) -> None:
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        expired = [key for key, (_, expires_at) in self._counters.items() if expires_at <= now]
        for key in expired:
            del self._counters[key]

    async def hit(self, key: str, expires_in: int) -> int:
        now = self._clock()
        self._purge(now)
        count = self._live(key, now)
        expires_at = self._counters[key][1] if count else now + expires_in
        self._counters[key] = (count + 1, expires_at)
        return count + 1

    async def give_back(self, key: str) -> None:
        now = self._clock()
        count = self._live(key, now)
        if count > 0:
            self._counters[key] = (count - 1, self._counters[key][1])

    async def count(self, key: str) -> int:
        return self._live(key, self._clock())

    async def delete(self, key: str) -> None:
        self._counters.pop(key, None)

    async def close(self) -> None:
        self._counters.clear()


class RedisLimitStore:
    """Counters in Redis, shared by every process; each operation is one atomic script.

    A Redis that is down or too slow raises `LimitStoreUnavailable` (503), never a 500.
    """

    def __init__(self, url: str, timeout: float = REDIS_TIMEOUT_SECONDS) -> None:
        from redis.asyncio import Redis  # noqa: PLC0415 - only deployments with REDIS_URL need it

        self._redis = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self._hit = self._redis.register_script(HIT_SCRIPT)
        self._give_back = self._redis.register_script(GIVE_BACK_SCRIPT)

    @staticmethod
    async def _reached(operation: Awaitable[Result]) -> Result:
        from redis.exceptions import ConnectionError, TimeoutError  # noqa: PLC0415

        try:
            return await operation
        except (ConnectionError, TimeoutError) as exc:
            raise LimitStoreUnavailable() from exc

    async def hit(self, key: str, expires_in: int) -> int:
        return int(await self._reached(self._hit(keys=[REDIS_PREFIX + key], args=[expires_in])))

    async def give_back(self, key: str) -> None:
        await self._reached(self._give_back(keys=[REDIS_PREFIX + key]))

    async def count(self, key: str) -> int:
        raw = await self._reached(self._redis.get(REDIS_PREFIX + key))
        return int(raw) if raw is not None else 0

    async def delete(self, key: str) -> None:
        await self._reached(self._redis.delete(REDIS_PREFIX + key))

    async def close(self) -> None:
        await self._redis.aclose()


def build_limit_store(settings: Settings) -> LimitStore:
    """The store of every attempt limit: Redis with `REDIS_URL`, else this process's memory."""
    if settings.redis_url:
        return RedisLimitStore(settings.redis_url)
    return MemoryLimitStore()


class AttemptLimiter:
    """Counts attempts per key in windows of `window_seconds`; refuses past `limit`."""

    def __init__(self, store: LimitStore, limit: int, window_seconds: int, namespace: str) -> None:
        self._store = store
        self._limit = limit
        self._window = window_seconds
        self._namespace = namespace

    def _key(self, key: str) -> tuple[str, int]:
        window_index, elapsed = divmod(int(time.time()), self._window)
        return f"{self._namespace}:{window_index}:{key}", self._window - elapsed

    async def check(self, key: str) -> None:
        """Raise `TooManyAttempts` when `key` has used up its window."""
        store_key, retry_after = self._key(key)
        if await self._store.count(store_key) >= self._limit:
            raise TooManyAttempts(retry_after=retry_after)

    async def acquire(self, key: str) -> str:
        """Count one attempt before the work it guards; `TooManyAttempts` past the limit.

        Returns the counter it was taken from, for `release` (the window may end meanwhile).
        A refused attempt is given back at once: only attempts that went ahead are counted.
        """
        store_key, retry_after = self._key(key)
        if await self._store.hit(store_key, self._window + 1) > self._limit:
            await self._store.give_back(store_key)
            raise TooManyAttempts(retry_after=retry_after)
        return store_key

    async def release(self, store_key: str) -> None:
        """Give back an attempt taken by `acquire` (to the counter it returned) that turned out
        well (a successful login) or was not made after all."""
        await self._store.give_back(store_key)

    async def reset(self, key: str) -> None:
        store_key, _ = self._key(key)
        await self._store.delete(store_key)
