"""What the other contexts tell the notifications context, inside their own transaction.

Services call these hooks after changing state and before committing, passing their session, so
the messages they cause are written in the same transaction (transactional outbox): a rollback
sends nothing, a commit always sends eventually.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.domain.notifications.statements import OutboxStatements

Recipient = tuple[int, str, str]
"""(user id, e-mail address, name)"""


@runtime_checkable  # the `notifier` dependency is checked against it
class Notifier(Protocol):
    async def tickets_issued(self, session: AsyncSession, order_id: int) -> None:
        """An order's tickets became active (free purchase or payment)."""

    async def tickets_issued_to(
        self, outbox: OutboxStatements, holder: Recipient, *, event_id: int, order_id: int
    ) -> None:
        """The same, inside a hot path's transaction on a driver connection (a free purchase)."""

    async def ticket_cancelled(self, session: AsyncSession, ticket_id: int) -> None:
        """One ticket was cancelled (by its holder or an admin)."""

    async def ticket_transferred(
        self, session: AsyncSession, ticket_id: int, giver: Recipient, receiver: Recipient
    ) -> None:
        """A ticket moved from `giver` to `receiver`: the giver hears it is no longer theirs, the
        receiver gets the ticket with its new code."""

    async def codes_reissued(self, session: AsyncSession, ticket_ids: Sequence[int]) -> None:
        """The active ones of these tickets got new codes (a code or a signing key leaked): each
        holder gets them with their new codes, one message per order."""

    async def event_cancelled(self, session: AsyncSession, event_id: int, cancelled_at: dt.datetime) -> None:
        """The whole event was cancelled at `cancelled_at`, the `cancelled_at` of every ticket it
        cancelled: their holders hear of it (and those of tickets used before), not the holders
        of tickets cancelled or expired earlier."""

    async def event_changed(self, session: AsyncSession, event_id: int, changed: frozenset[str]) -> None:
        """The event moved (time or venue)."""
