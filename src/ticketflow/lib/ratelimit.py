"""Fixed-window attempt counters kept in a Litestar store (in process memory; see DEPLOYMENT.md)."""

from __future__ import annotations

import asyncio
import time

from litestar.stores.base import Store

from ticketflow.lib.errors import TooManyAttempts


class AttemptLimiter:
    """Counts attempts per key in windows of `window_seconds`; refuses past `limit`."""

    def __init__(self, store: Store, limit: int, window_seconds: int, namespace: str) -> None:
        self._store = store
        self._limit = limit
        self._window = window_seconds
        self._namespace = namespace
        self._lock = asyncio.Lock()

    def _key(self, key: str) -> tuple[str, int]:
        window_index, elapsed = divmod(int(time.time()), self._window)
        return f"{self._namespace}:{window_index}:{key}", self._window - elapsed

    async def check(self, key: str) -> None:
        """Raise `TooManyAttempts` when `key` has used up its window."""
        store_key, retry_after = self._key(key)
        raw = await self._store.get(store_key)
        if raw is not None and int(raw) >= self._limit:
            raise TooManyAttempts(retry_after=retry_after)

    async def acquire(self, key: str) -> str:
        """Count one attempt before the work it guards; `TooManyAttempts` past the limit.

        Returns the counter it was taken from, for `release` (the window may end meanwhile).

        Reading and raising the counter is one step within this process, so a burst of parallel
        attempts cannot all pass before the first one is counted (as check-then-hit would allow
        while a password hash is computed).
        """
        store_key, retry_after = self._key(key)
        async with self._lock:
            raw = await self._store.get(store_key)
            count = int(raw) if raw is not None else 0
            if count >= self._limit:
                raise TooManyAttempts(retry_after=retry_after)
            await self._store.set(store_key, str(count + 1), expires_in=self._window + 1)
        return store_key

    async def release(self, store_key: str) -> None:
        """Give back an attempt taken by `acquire` (to the counter it returned) that turned out
        well (a successful login) or was not made after all."""
        async with self._lock:
            raw = await self._store.get(store_key)
            if raw is not None and int(raw) > 0:
                await self._store.set(store_key, str(int(raw) - 1), expires_in=self._window + 1)

    async def reset(self, key: str) -> None:
        store_key, _ = self._key(key)
        await self._store.delete(store_key)
