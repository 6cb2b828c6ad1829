"""What the tickets context asks of the payments context.

The ticket service holds seats and changes ticket states; everything about money (checkout
sessions, refunds, expiry of unpaid holds) goes through this interface so the two contexts stay
apart. Methods that take a session run inside the caller's transaction and must not call
external services: they record work (e.g. a refund row) that the worker carries out.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.payments.schemas import Payment
from ticketflow.lib.errors import ConflictError
from ticketflow.lib.i18n import N_


class PaymentsUnavailable(ConflictError):
    detail = N_("paid tickets cannot be sold: no payment provider is configured")


@runtime_checkable  # the `payments` dependency is checked against it
class Payments(Protocol):
    provider_name: str

    def accepts_priced_orders(self) -> bool:
        """False when priced events cannot be sold (the purchase then answers 409)."""

    async def checkout(self, order_id: int, *, retryable: bool) -> Payment:
        """The checkout for a pending order (created once; the same one on a retry).

        Runs after the purchase transaction committed, in its own transaction, so no seat lock
        is held while a provider is called. When the provider fails: a `retryable` order (bought
        with an Idempotency-Key, whose retry gets this order and tries again) keeps its seats
        until it expires; any other is cancelled at once, its seats back on sale.
        """

    async def expire_holds(self, session: AsyncSession, event_id: int | None) -> int:
        """Expire unpaid orders past `expires_at` (of one event, or all); returns seats released."""

    async def refund_ticket(self, session: AsyncSession, order: Order, ticket: Ticket) -> None:
        """Record the refund of one ticket of a paid order (carried out by the worker)."""

    async def refund_order(self, session: AsyncSession, order: Order, event: Event) -> None:
        """Record the refund of what remains paid of an order (event cancelled)."""
