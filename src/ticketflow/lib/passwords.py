"""Password hashing with argon2id, run off the event loop.

Parameters follow OWASP's Password Storage Cheat Sheet: argon2id with m=19 MiB, t=2, p=1 is its
recommended minimum configuration, and costs ~20-30 ms here instead of ~190 ms for the library's
defaults (64 MiB, t=3, p=4) - enough to make offline guessing expensive while keeping a login
fast and the server able to absorb bursts. The three numbers are settings, so a deployment can
raise them; existing hashes keep verifying and are re-hashed on the next successful login.

Each hash takes ARGON2_MEMORY_KIB of memory and a thread for its duration, so at most
`concurrency` run at once per process (`PASSWORD_HASH_CONCURRENCY`); a burst of sign-ups or
logins waits its turn instead of exhausting the memory or the threads the rest of the API uses.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    """Hash and verify passwords; a login for an unknown e-mail costs one verification too."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int, *, concurrency: int = 4) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy_hash = self._hasher.hash("ticketflow-timing-equaliser")
        self._limiter = anyio.CapacityLimiter(concurrency)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, spend the same time and answer False."""
        target = password_hash or self._dummy_hash
        ok = await anyio.to_thread.run_sync(self._check, target, password, limiter=self._limiter)
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
