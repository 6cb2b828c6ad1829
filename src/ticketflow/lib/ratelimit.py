"""Fixed-window attempt counters kept in a Litestar store (memory by default, Redis when shared)."""

from __future__ import annotations

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

    def _key(self, key: str) -> tuple[str, int]:
        window_index = int(time.time()) // self._window
        retry_after = self._window - int(time.time()) % self._window
        return f"{self._namespace}:{window_index}:{key}", max(retry_after, 1)

    async def check(self, key: str) -> None:
        """Raise `TooManyAttempts` when `key` has used up its window."""
        store_key, retry_after = self._key(key)
        raw = await self._store.get(store_key)
        if raw is not None and int(raw) >= self._limit:
            raise TooManyAttempts(retry_after=retry_after)

    async def hit(self, key: str) -> None:
        """Record one attempt for `key`."""
        store_key, _ = self._key(key)
        raw = await self._store.get(store_key)
        count = int(raw) + 1 if raw is not None else 1
        await self._store.set(store_key, str(count), expires_in=self._window + 1)

    async def reset(self, key: str) -> None:
        store_key, _ = self._key(key)
        await self._store.delete(store_key)
