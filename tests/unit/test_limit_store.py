"""The attempt-limit stores: memory purged as windows expire, Redis counting atomically, and the
bound on password hashes computed at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.support.mariadb import free_port
from ticketflow.lib.errors import TooManyAttempts
from ticketflow.lib.passwords import Passwords
from ticketflow.lib.ratelimit import (
    PURGE_EVERY_SECONDS,
    AttemptLimiter,
    LimitStoreUnavailable,
    MemoryLimitStore,
    RedisLimitStore,
    build_limit_store,
)
from ticketflow.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_store_forgets_expired_windows() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    for client in range(500):
        assert await store.hit(f"login:{client}", expires_in=60) == 1
    assert await store.hit("login:0", expires_in=60) == 2
    assert len(store) == 500

    clock.now += 61  # every window is over
    assert await store.count("login:0") == 0
    clock.now += PURGE_EVERY_SECONDS
    assert await store.hit("login:new", expires_in=60) == 1
    assert len(store) == 1  # the expired counters are gone, not only ignored


async def test_memory_store_keeps_the_first_expiry_of_a_window() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock)
    await store.hit("k", expires_in=10)
    clock.now += 9
    assert await store.hit("k", expires_in=10) == 2  # a later hit does not extend the window
    clock.now += 2
    assert await store.count("k") == 0
    await store.give_back("k")
    assert await store.count("k") == 0


def test_the_store_is_chosen_by_redis_url() -> None:
    assert isinstance(build_limit_store(Settings()), MemoryLimitStore)
    assert isinstance(build_limit_store(Settings(redis_url="redis://127.0.0.1:1/0")), RedisLimitStore)


async def test_redis_counts_parallel_attempts_exactly(redis_url: str) -> None:
    stores = [RedisLimitStore(redis_url), RedisLimitStore(redis_url)]  # two processes' clients
    try:
        limiters = [AttemptLimiter(store, limit=5, window_seconds=60, namespace="t") for store in stores]
        results = await asyncio.gather(
            *(limiters[n % 2].acquire("k") for n in range(40)), return_exceptions=True
        )
        assert sum(not isinstance(result, BaseException) for result in results) == 5
        assert all(isinstance(r, TooManyAttempts) for r in results if isinstance(r, BaseException))
        taken = next(result for result in results if isinstance(result, str))
        await limiters[1].release(taken)  # given back on the other process: one more may pass
        await limiters[0].acquire("k")
        with pytest.raises(TooManyAttempts):
            await limiters[1].acquire("k")
        assert 0 < await stores[0].count(taken) == 5
    finally:
        for store in stores:
            await store.close()


async def test_redis_counters_expire_with_their_window(redis_url: str) -> None:
    import redis.asyncio

    store = RedisLimitStore(redis_url)
    try:
        await store.hit("w", expires_in=60)
        await store.hit("w", expires_in=60)
        async with redis.asyncio.Redis.from_url(redis_url) as raw:
            ttl = await raw.ttl("ticketflow:limit:w")
        assert 0 < ttl <= 60
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
        for operation in (store.hit("k", 60), store.count("k"), store.give_back("k"), store.delete("k")):
            with pytest.raises(LimitStoreUnavailable):
                await operation
    finally:
        await store.close()
