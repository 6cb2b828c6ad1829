"""Payment use cases: the `Payments` hooks of the tickets context, notices, checkouts, jobs.

Each public method that changes data is one transaction. Provider calls (open a checkout, pay a
refund) never run inside a transaction: no row lock is held while a provider answers.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.payments import Checkout
from ticketflow.db.models.payments import Payment as PaymentRecord
from ticketflow.db.models.ticket_types import OrderLine
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.users import User
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.payments import holds, refunds
from ticketflow.domain.payments.providers import (
    CheckoutRequest,
    PaymentNotice,
    PaymentProvider,
    PaymentProviderUnavailable,
    ProviderError,
    UnknownCheckout,
    checkout_lines,
    idempotency_key,
)
from ticketflow.domain.payments.schemas import Payment
from ticketflow.domain.payments.settlement import LatePaymentPolicy, Settlement, settle
from ticketflow.lib.errors import ConflictError
from ticketflow.lib.i18n import N_
from ticketflow.lib.state import AppContext

T = TypeVar("T")
logger = logging.getLogger("ticketflow.payments")

TRANSACTION_ATTEMPTS = 3
RETRYABLE_MYSQL_ERRORS = frozenset({1205, 1213})
"""Lock wait timeout and deadlock: InnoDB rolled the transaction back; running it again is safe."""


NOTHING_BOUGHT = N_("the payment provider is unavailable; nothing was bought, try again in a moment")
"""A checkout that failed for an order bought without an Idempotency-Key: the order is cancelled."""


class OrderNotPayable(ConflictError):
    detail = N_("this order is not waiting for payment")


@dataclass(frozen=True, slots=True)
class CheckoutView:
    """What a checkout or landing page shows about an order."""

    checkout: Checkout
    order: Order
    event: Event
    payment: PaymentRecord | None
    """The latest payment reported for the order, if any."""
    lines: tuple[OrderLine, ...] = ()
    """What the order buys, line by line (ticket type, quantity, amount after any voucher)."""


def retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True  # a concurrent twin committed first; the next run sees its rows
    code = getattr(exc.orig, "args", [None])[0] if isinstance(exc, OperationalError) else None
    return code in RETRYABLE_MYSQL_ERRORS


class PaymentService:
    """Implements `Payments` for the tickets context, on top of one active `PaymentProvider`."""

    def __init__(
        self,
        context: AppContext,
        notifier: Callable[[], Notifier],
        provider: PaymentProvider,
        providers: Mapping[str, PaymentProvider],
    ) -> None:
        self.context = context
        self.notifier = notifier
        """The notifications context's notifier in use (read when a payment is settled)."""
        self.provider = provider
        self.provider_name = provider.name
        self.providers = providers
        """Every provider that may have taken a payment (refunds go back through the same one)."""
        self.late_payment_policy = LatePaymentPolicy(context.settings.late_payment_policy)

    def accepts_priced_orders(self) -> bool:
        return True

    async def in_transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` and commit; run it again when the database rolled it back (deadlock, race)."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            async with self.context.session_maker() as session:
                try:
                    result = await work(session)
                    await session.commit()
                except (IntegrityError, OperationalError) as exc:
                    await session.rollback()
                    if attempt == TRANSACTION_ATTEMPTS or not retryable(exc):
                        raise
                else:
                    return result
        raise AssertionError  # pragma: no cover - the loop returns or raises

    # -- hooks called by the tickets context -------------------------------------------------

    async def _release_unpayable(self, order: Order) -> None:
        """Cancel a pending order whose checkout could not be opened and that no retry will reach
        (bought without an Idempotency-Key): its seats go back on sale at once, its voucher use
        is given back, and its buyer's share of unpaid seats is free for a new attempt."""

        async def release(session: AsyncSession) -> int:
            return await holds.release_hold(
                session, order.id, order.event_id, OrderStatus.CANCELLED, utc_now(), only_if_expired=False
            )

        await self.in_transaction(release)

    async def checkout(self, order_id: int, *, retryable: bool) -> Payment:
        async with self.context.session_maker() as session:
            existing = await session.scalar(select(Checkout).where(Checkout.order_id == order_id))
            row = (
                await session.execute(
                    select(Order, Event, User)
                    .join(Event, Event.id == Order.event_id)
                    .join(User, User.id == Order.user_id)
                    .where(Order.id == order_id)
                )
            ).first()
            lines = (
                await session.execute(
                    select(OrderLine.name, OrderLine.quantity, OrderLine.amount_cents)
                    .where(OrderLine.order_id == order_id)
                    .order_by(OrderLine.id)
                )
            ).all()
        if row is None:
            raise OrderNotPayable(N_("order not found"))
        order, event, user = row
        if existing is not None:
            return self._payment(existing, order)
        if order.status != OrderStatus.PENDING or order.expires_at is None:
            raise OrderNotPayable
        request = CheckoutRequest(
            order_id=order.id,
            title=event.title,
            lines=checkout_lines(event.title, [(name, count, amount) for name, count, amount in lines]),
            currency=order.currency,
            customer_email=user.email,
            expires_at=order.expires_at,
            ordered_at=order.created_at,
            idempotency_key=idempotency_key("checkout", order.id, order.created_at),
        )
        try:
            opened = await self.provider.open_checkout(request)
        except ProviderError as exc:
            if retryable:
                raise PaymentProviderUnavailable(provider=self.provider_name) from exc
            try:
                await self._release_unpayable(order)
            except (IntegrityError, OperationalError):  # still pending: it expires as any hold does
                logger.exception("order %s: its checkout failed and its hold could not be released", order.id)
                raise PaymentProviderUnavailable(provider=self.provider_name) from exc
            raise PaymentProviderUnavailable(NOTHING_BOUGHT, provider=self.provider_name) from exc
        now = utc_now()
        checkout = Checkout(
            order_id=order.id,
            provider=self.provider_name,
            external_id=opened.external_id,
            url=opened.url,
            access_token=opened.access_token,
            expires_at=opened.expires_at,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.context.session_maker() as session:
                session.add(checkout)
                await session.commit()
        except IntegrityError:
            # A concurrent retry of the same purchase stored its checkout first: use that one.
            async with self.context.session_maker() as session:
                stored = await session.scalar(select(Checkout).where(Checkout.order_id == order_id))
            if stored is None:
                raise
            checkout = stored
        return self._payment(checkout, order)

    @staticmethod
    def _payment(checkout: Checkout, order: Order) -> Payment:
        return Payment(
            provider=checkout.provider,
            checkout_url=checkout.url,
            expires_at=order.expires_at or checkout.expires_at,
        )

    async def expire_holds(self, session: AsyncSession, event_id: int | None) -> int:
        return await holds.expire_holds(session, event_id, utc_now())

    async def refund_ticket(self, session: AsyncSession, order: Order, ticket: Ticket) -> None:
        await refunds.refund_one_ticket(session, order, ticket, utc_now())

    async def refund_order(self, session: AsyncSession, order: Order, event: Event) -> None:
        await refunds.refund_remainder(session, order, utc_now())

    # -- provider notifications and the checkout pages ---------------------------------------

    async def handle_notice(self, notice: PaymentNotice) -> Settlement:
        """Apply a verified provider notification exactly once."""

        async def work(session: AsyncSession) -> Settlement:
            return await settle(
                session,
                notice,
                policy=self.late_payment_policy,
                notifier=self.notifier(),
                signer=self.context.ticket_signer,
                now=utc_now(),
            )

        return await self.in_transaction(work)

    async def find_checkout(
        self, *, provider: str, order_id: int | None = None, external_id: str | None = None
    ) -> CheckoutView:
        """The checkout of an order (by order id or by the provider's id), with order and event."""
        query = (
            select(Checkout, Order, Event)
            .join(Order, Order.id == Checkout.order_id)
            .join(Event, Event.id == Order.event_id)
            .where(Checkout.provider == provider)
        )
        if order_id is not None:
            query = query.where(Checkout.order_id == order_id)
        if external_id is not None:
            query = query.where(Checkout.external_id == external_id)
        async with self.context.session_maker() as session:
            row = (await session.execute(query)).first()
            if row is None:
                raise UnknownCheckout
            checkout, order, event = row
            payment = await session.scalar(
                select(PaymentRecord)
                .where(PaymentRecord.order_id == order.id)
                .order_by(PaymentRecord.id.desc())
                .limit(1)
            )
            lines = await session.scalars(
                select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
            )
            return CheckoutView(checkout, order, event, payment, tuple(lines))

    async def find_checkout_by_token(self, provider: str, order_id: int, token: str) -> CheckoutView:
        """The checkout whose secret URL token is `token` (404 alike for unknown and wrong)."""
        view = await self.find_checkout(provider=provider, order_id=order_id)
        stored = view.checkout.access_token or ""
        if not stored or not hmac.compare_digest(stored.encode(), token.encode()):
            raise UnknownCheckout
        return view

    async def abandon_checkout(self, view: CheckoutView) -> int:
        """The buyer gave up paying: the order is cancelled and its seats go back on sale."""
        order = view.order

        async def work(session: AsyncSession) -> int:
            return await holds.release_hold(
                session, order.id, order.event_id, OrderStatus.CANCELLED, utc_now(), only_if_expired=False
            )

        return await self.in_transaction(work)

    # -- background jobs ---------------------------------------------------------------------

    async def sweep_expired_holds(self) -> int:
        """One pass of the expiry job: seats of unpaid orders past their time go back on sale."""

        async def work(session: AsyncSession) -> int:
            return await holds.expire_holds(session, None, utc_now())

        return await self.in_transaction(work)

    async def carry_out_refunds(self) -> int:
        """One pass of the refund job: pay the refunds that are due (retries after failures)."""
        return await refunds.carry_out_due_refunds(self.context.session_maker, self.providers)
