"""Sliding-window attempt limits in one store shared by every limit (login, sign-up, resend...).

An attempt is allowed when fewer than `limit` attempts were counted under its key in the last
`window_seconds`; a refused attempt is not counted. The window slides with each attempt, so no
burst gets past the limit however it falls in time (windows fixed on the clock let a burst
straddling a window's end through twice). A refusal says how long to wait: until the oldest
counted attempt leaves the window, so that one more may pass (`Retry-After`, at least 1 s).

Taking an attempt is one atomic step whatever the store: the attempts that left the window are
dropped, the rest counted and the new one added if there is room, together; so parallel
attempts - in one process or in many - never all pass before the first is counted. Each counted
attempt has its own name (`Attempt`), so the one attempt that went well (a successful login)
can be given back, and only that one. A limit on guesses (voucher codes, transfer recipients)
counts each guess before the work that answers it (`AttemptLimiter.guess`), and gives it back when
the answer was no wrong guess: a burst of parallel guesses gets `limit` answers, the rest 429.

- Without `REDIS_URL` the attempts live in this process's memory (`MemoryLimitStore`): right
  for one process; keys with nothing left in their window are purged as time passes, so memory
  does not grow with the number of clients ever seen (and a key holds at most `limit` attempts).
- With `REDIS_URL` they live in Redis (`RedisLimitStore`), shared by every process and instance:
  a sorted set per key, its attempts scored by the Redis server's clock, each operation one round
  trip (taking an attempt one Lua script); a key expires one window after its latest attempt.
  When Redis cannot be reached (down, or slower than `REDIS_TIMEOUT_SECONDS`) the guarded request
  is refused with 503 (`LimitStoreUnavailable`): limits are never silently skipped, and nothing
  waits for long.

`build_limit_store(settings)` is the one place that chooses.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from ticketflow.lib.errors import ServiceUnavailable, TooManyAttempts
from ticketflow.lib.i18n import N_

if TYPE_CHECKING:
    from ticketflow.settings import Settings

REDIS_PREFIX = "ticketflow:attempts:"
PURGE_EVERY_SECONDS = 30.0
REDIS_TIMEOUT_SECONDS = 2.0
"""How long one Redis connect or command may take before the request is refused with 503."""

Result = TypeVar("Result")


IPV6_CLIENT_PREFIX = 64
"""An IPv6 client is counted by its /64 network: one subscriber, one host or one cloud instance
commonly has a whole /64, so counting each address would give a guesser 2^64 allowances."""


class Peer(Protocol):
    @property
    def host(self) -> str: ...


class Connection(Protocol):
    """A request of the API (Litestar's) or of the back office (Starlette's)."""

    @property
    def client(self) -> Peer | None: ...


def client_address(request: Connection) -> str:
    """The key the attempt limits count a client's attempts under: its address (the one the
    trusted proxy forwarded), an IPv6 one as its /64 network."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


class LimitStoreUnavailable(ServiceUnavailable):
    detail = N_("attempt limits cannot be checked right now, try again shortly")


LIMITS_UNAVAILABLE = (
    503,
    "the attempt limits' shared store (Redis) cannot be reached now: try again shortly",
)
"""The documented answer of every route that counts attempts (`LimitStoreUnavailable`)."""


TAKE_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.3f', now - window))
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], string.format('%.3f', now), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))
  return 0
end
local room = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return math.max(1, math.ceil(tonumber(room[2]) + window - now))
"""
"""Count attempt ARGV[3] if fewer than ARGV[2] are in the last ARGV[1] ms (by the Redis server's
clock, in ms): 0, else the wait in ms until the attempt whose leaving makes room leaves the window.
The key expires one window after its latest attempt."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One counted attempt: its key in the store and its own name there (`AttemptLimiter.release`)."""

    key: str
    name: str


class LimitStore(Protocol):
    """Attempts per key with their times; `take` counts one if there is room, in one atomic step.

    `window` is in seconds. `take` answers 0 when it counted the attempt, else the seconds until
    one may pass (nothing counted)."""

    async def take(self, key: str, name: str, limit: int, window: float) -> float: ...

    async def give_back(self, key: str, name: str) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Attempts:
    """The attempts of one key, oldest first, and when the key is over if none follows."""

    times: list[tuple[float, str]] = field(default_factory=list)
    over_at: float = 0.0


class MemoryLimitStore:
    """Attempts in this process's memory; keys with none in their window are dropped every
    `PURGE_EVERY_SECONDS`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keys: dict[str, _Attempts] = {}
        self._next_purge = clock() + PURGE_EVERY_SECONDS

    def __len__(self) -> int:
        return len(self._keys)

    def _purge(self, now: float) -> None:
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        for key in [key for key, attempts in self._keys.items() if attempts.over_at <= now]:
            del self._keys[key]

    def _in_window(self, key: str, now: float, window: float) -> list[tuple[float, str]]:
        """The key's attempts in the window ending now (older ones are dropped)."""
        attempts = self._keys.get(key)
        if attempts is None:
            return []
        since = now - window
        gone = next((n for n, (at, _) in enumerate(attempts.times) if at > since), len(attempts.times))
        del attempts.times[:gone]
        return attempts.times

    async def take(self, key: str, name: str, limit: int, window: float) -> float:
        now = self._clock()
        self._purge(now)
        times = self._in_window(key, now, window)
        if len(times) >= limit:  # until the attempt whose leaving makes room leaves the window
            return times[len(times) - limit][0] + window - now
        attempts = self._keys.setdefault(key, _Attempts(times))
        attempts.times.append((now, name))
        attempts.over_at = now + window
        return 0.0

    async def give_back(self, key: str, name: str) -> None:
        attempts = self._keys.get(key)
        if attempts is not None:
            attempts.times[:] = [(at, taken) for at, taken in attempts.times if taken != name]

    async def delete(self, key: str) -> None:
        self._keys.pop(key, None)

    async def close(self) -> None:
        self._keys.clear()


class RedisLimitStore:
    """Attempts in Redis, shared by every process; each operation is one atomic command (taking
    an attempt, one Lua script).

    A Redis that is down or too slow raises `LimitStoreUnavailable` (503), never a 500.
    """

    def __init__(self, url: str, timeout: float = REDIS_TIMEOUT_SECONDS) -> None:
        from redis.asyncio import Redis  # noqa: PLC0415 - only deployments with REDIS_URL need it

        self._redis = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self._take = self._redis.register_script(TAKE_SCRIPT)

    @staticmethod
    async def _reached(operation: Awaitable[Result]) -> Result:
        from redis.exceptions import ConnectionError, TimeoutError  # noqa: PLC0415

        try:
            return await operation
        except (ConnectionError, TimeoutError) as exc:
            raise LimitStoreUnavailable() from exc

    async def take(self, key: str, name: str, limit: int, window: float) -> float:
        waited = self._take(keys=[REDIS_PREFIX + key], args=[window * 1000, limit, name])
        return int(await self._reached(waited)) / 1000

    async def give_back(self, key: str, name: str) -> None:
        await self._reached(self._redis.zrem(REDIS_PREFIX + key, name))

    async def delete(self, key: str) -> None:
        await self._reached(self._redis.delete(REDIS_PREFIX + key))

    async def close(self) -> None:
        await self._redis.aclose()


def build_limit_store(settings: Settings) -> LimitStore:
    """The store of every attempt limit: Redis with `REDIS_URL`, else this process's memory."""
    if settings.redis_url:
        return RedisLimitStore(settings.redis_url)
    return MemoryLimitStore()


def retry_after(wait: float) -> int:
    """A wait as `Retry-After` seconds: rounded up, at least 1."""
    return max(1, math.ceil(wait))


class AttemptLimiter:
    """Allows at most `limit` attempts per key in any `window_seconds` (a sliding window)."""

    def __init__(self, store: LimitStore, limit: int, window_seconds: int, namespace: str) -> None:
        self._store = store
        self._limit = limit
        self._window = window_seconds
        self._namespace = namespace

    def _key(self, key: str) -> str:
        return f"{self._namespace}:{key}"

    async def acquire(self, key: str) -> Attempt:
        """Count one attempt before the work it guards; `TooManyAttempts` past the limit.

        A refused attempt is not counted. Returns the attempt, for `release`."""
        attempt = Attempt(self._key(key), secrets.token_hex(8))
        wait = await self._store.take(attempt.key, attempt.name, self._limit, self._window)
        if wait > 0:
            raise TooManyAttempts(retry_after=retry_after(wait))
        return attempt

    async def release(self, attempt: Attempt) -> None:
        """Give back an attempt taken by `acquire` that turned out well (a successful login) or
        was not made after all: that attempt only, whenever it was taken."""
        await self._store.give_back(attempt.key, attempt.name)

    @asynccontextmanager
    async def guess(self, key: str, wrong: Callable[[Exception], bool]) -> AsyncIterator[None]:
        """Count one guess before the work that answers it (`TooManyAttempts` past the limit,
        the work not done), and give it back unless the work raised an error that `wrong` says
        is a wrong guess: parallel guesses never all pass before the first is counted."""
        attempt = await self.acquire(key)
        try:
            yield
        except Exception as error:
            if not wrong(error):
                await self.release(attempt)
            raise
        await self.release(attempt)

    async def reset(self, key: str) -> None:
        await self._store.delete(self._key(key))
