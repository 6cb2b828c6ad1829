"""The attempt limits: a sliding window (no burst past the limit across any boundary), Retry-After,
give-back of one attempt, memory purged as attempts leave their window, Redis counting atomically
across processes, and the bound on password hashes computed at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.support.mariadb import free_port
from ticketflow.lib.errors import TooManyAttempts
from ticketflow.lib.passwords import Passwords
from ticketflow.lib.ratelimit import (
    PURGE_EVERY_SECONDS,
    REDIS_PREFIX,
    Attempt,
    AttemptLimiter,
    LimitStoreUnavailable,
    MemoryLimitStore,
    RedisLimitStore,
    build_limit_store,
)
from ticketflow.settings import Settings


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter_on(clock: Clock, limit: int = 3, window_seconds: int = 60) -> AttemptLimiter:
    return AttemptLimiter(MemoryLimitStore(clock), limit=limit, window_seconds=window_seconds, namespace="t")


async def refused_for(limiter: AttemptLimiter, key: str = "k") -> int:
    """The Retry-After of a refused attempt."""
    with pytest.raises(TooManyAttempts) as refused:
        await limiter.acquire(key)
    return refused.value.retry_after


async def test_a_burst_across_the_end_of_a_clock_window_gets_no_more_than_the_limit() -> None:
    """3 resends at 15:14:59 and 3 more at 15:15:00 (3 per 15 minutes): the second 3 are refused
    until the first leave the window, 15 minutes after they were made."""
    clock = Clock(900.0 * 2_000_000 - 1)  # a second before a quarter hour since the epoch
    limiter = limiter_on(clock, limit=3, window_seconds=900)
    for _ in range(3):
        await limiter.acquire("k")
    clock.now += 1
    assert await refused_for(limiter) == 899
    clock.now += 898.5
    assert await refused_for(limiter) == 1  # half a second left: rounded up
    clock.now += 0.5
    for _ in range(3):
        await limiter.acquire("k")
    assert await refused_for(limiter) == 900


async def test_the_window_slides_one_attempt_at_a_time() -> None:
    clock = Clock(0.0)
    limiter = limiter_on(clock, limit=3, window_seconds=60)
    for at in (0.0, 10.0, 20.0):
        clock.now = at
        await limiter.acquire("k")
    clock.now = 30.0
    assert await refused_for(limiter) == 30  # until the attempt at 0 leaves
    clock.now = 60.0  # it has left: one more may pass, then none until the one at 10 leaves
    await limiter.acquire("k")
    assert await refused_for(limiter) == 10
    await limiter.acquire("other")  # keys are counted apart
    await limiter.reset("k")
    await limiter.acquire("k")


async def test_refused_attempts_are_not_counted() -> None:
    clock = Clock(0.0)
    limiter = limiter_on(clock, limit=1, window_seconds=60)
    await limiter.acquire("k")
    for at in (20.0, 40.0, 59.0):
        clock.now = at
        assert await refused_for(limiter) == 60 - at
    clock.now = 60.0
    await limiter.acquire("k")


async def test_give_back_takes_back_that_attempt_only() -> None:
    """A successful login gives back its own attempt, not the oldest: the older failures still
    count and still leave the window when they would have."""
    clock = Clock(0.0)
    limiter = limiter_on(clock, limit=2, window_seconds=60)
    await limiter.acquire("k")
    clock.now = 30.0
    went_well = await limiter.acquire("k")
    await limiter.release(went_well)
    await limiter.release(went_well)  # twice is once
    clock.now = 40.0
    await limiter.acquire("k")
    assert await refused_for(limiter) == 20  # the attempt at 0 still counts, until 60


async def test_give_back_of_an_attempt_that_left_the_window_takes_nothing_back() -> None:
    clock = Clock(0.0)
    limiter = limiter_on(clock, limit=2, window_seconds=60)
    old = await limiter.acquire("k")
    clock.now = 61.0
    await limiter.acquire("k")
    await limiter.release(old)
    await limiter.acquire("k")
    assert await refused_for(limiter) == 60


async def test_attempts_at_the_same_instant_are_counted_and_given_back_apart() -> None:
    clock = Clock()
    limiter = limiter_on(clock, limit=3)
    first, *_ = [await limiter.acquire("k") for _ in range(3)]
    await limiter.release(first)
    await limiter.acquire("k")
    assert await refused_for(limiter) == 60


async def test_memory_store_forgets_keys_with_nothing_in_their_window() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    limiter = AttemptLimiter(store, limit=5, window_seconds=60, namespace="login")
    for client in range(500):
        await limiter.acquire(str(client))
    await limiter.acquire("0")
    assert len(store) == 500

    clock.now += 60 + PURGE_EVERY_SECONDS  # every attempt has left its window, and a purge is due
    await limiter.acquire("new")
    assert len(store) == 1  # the keys with nothing left are gone, not only ignored


async def test_memory_store_keeps_no_more_than_the_limit_per_key() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    limiter = AttemptLimiter(store, limit=3, window_seconds=60, namespace="t")
    for _ in range(3):
        await limiter.acquire("k")
    for _ in range(100):
        clock.now += 0.1
        with pytest.raises(TooManyAttempts):
            await limiter.acquire("k")
    assert [len(attempts.times) for attempts in store._keys.values()] == [3]


def test_the_store_is_chosen_by_redis_url() -> None:
    assert isinstance(build_limit_store(Settings()), MemoryLimitStore)
    assert isinstance(build_limit_store(Settings(redis_url="redis://127.0.0.1:1/0")), RedisLimitStore)


async def members(redis_url: str, key: str) -> list[bytes]:
    import redis.asyncio

    async with redis.asyncio.Redis.from_url(redis_url) as raw:
        return list(await raw.zrange(REDIS_PREFIX + key, 0, -1))


async def test_redis_counts_parallel_attempts_exactly(redis_url: str) -> None:
    stores = [RedisLimitStore(redis_url), RedisLimitStore(redis_url)]  # two processes' clients
    try:
        limiters = [AttemptLimiter(store, limit=5, window_seconds=60, namespace="t") for store in stores]
        results = await asyncio.gather(
            *(limiters[n % 2].acquire("k") for n in range(40)), return_exceptions=True
        )
        taken = [result for result in results if isinstance(result, Attempt)]
        assert len(taken) == 5
        assert all(isinstance(r, TooManyAttempts) for r in results if not isinstance(r, Attempt))
        assert sorted(await members(redis_url, "t:k")) == sorted(a.name.encode() for a in taken)
        await limiters[1].release(taken[2])  # given back on the other process: one more may pass
        assert taken[2].name.encode() not in await members(redis_url, "t:k")
        await limiters[0].acquire("k")
        with pytest.raises(TooManyAttempts) as refused:
            await limiters[1].acquire("k")
        assert 1 <= refused.value.retry_after <= 60
        assert len(await members(redis_url, "t:k")) == 5
    finally:
        for store in stores:
            await store.close()


async def test_redis_window_slides_and_keys_expire(redis_url: str) -> None:
    import redis.asyncio

    store = RedisLimitStore(redis_url)
    try:
        # a window long enough that a slow machine is still inside it after the next few steps
        limiter = AttemptLimiter(store, limit=1, window_seconds=3, namespace="w")
        taken = await limiter.acquire("k")
        async with redis.asyncio.Redis.from_url(redis_url) as raw:
            assert 0 < await raw.pttl(REDIS_PREFIX + "w:k") <= 3000
            with pytest.raises(TooManyAttempts) as refused:
                await limiter.acquire("k")
            assert 1 <= refused.value.retry_after <= 3
            for _ in range(200):  # until the attempt leaves the window: the key expires
                if not await raw.exists(REDIS_PREFIX + "w:k"):
                    break
                await asyncio.sleep(0.05)
            assert await raw.exists(REDIS_PREFIX + "w:k") == 0
            await limiter.acquire("k")
            await limiter.release(taken)  # it left long ago: nothing more is given back
            with pytest.raises(TooManyAttempts):
                await limiter.acquire("k")
            await limiter.reset("k")
            assert await raw.exists(REDIS_PREFIX + "w:k") == 0
    finally:
        await store.close()


async def test_password_hashes_run_no_more_than_the_bound_at_once() -> None:
    passwords = Passwords(memory_kib=1024, time_cost=1, parallelism=1, concurrency=2)
    hasher = passwords._hasher
    running = peak = 0
    more_started = threading.Condition()

    class Tracked:
        """Each hash waits a moment for a third to start alongside it: one would, unbounded."""

        def hash(self, password: str) -> str:
            nonlocal running, peak
            with more_started:
                running += 1
                peak = max(peak, running)
                more_started.notify_all()
                more_started.wait_for(lambda: running > 2, timeout=0.2)
            try:
                return hasher.hash(password)
            finally:
                with more_started:
                    running -= 1

    passwords._hasher = Tracked()  # type: ignore[assignment]
    hashes = await asyncio.gather(*(passwords.hash(f"password-{n}") for n in range(6)))
    assert len(set(hashes)) == 6
    assert peak == 2


async def test_redis_out_of_reach_is_a_clear_unavailable_error() -> None:
    store = RedisLimitStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        for operation in (
            store.take("k", "a", 3, 60),
            store.give_back("k", "a"),
            store.delete("k"),
        ):
            with pytest.raises(LimitStoreUnavailable):
                await operation
    finally:
        await store.close()
