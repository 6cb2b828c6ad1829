"""What money that arrived does to its order - the same rules for every provider.

One notice is applied in one transaction: the event row, then the order row are locked, the
payment is recorded (one row per provider payment id, unique), and the order moves:

* pending order, amount and currency as ordered: `paid`, tickets `active`, ticket e-mail queued;
* already paid: the second payment is refused and refunded in full;
* expired (the hold ran out): with `late_payment_policy = accept_if_available` new tickets are
  issued for those the expiry cancelled if the sale is still open for them (the event and each
  type still on sale, their seats still there) and the voucher it redeemed (given back on expiry)
  is still valid with a use left, which it takes again; else - and always with `refund` - the
  money goes back;
* either way, tickets cancelled by their holder while the order was unpaid stay cancelled and what
  each cost is refunded;
* cancelled or refunded order, or another amount or currency than ordered: refused, refunded.

The notice's own id is stored too (unique per provider), so a replayed notification is a no-op.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.payments import (
    Checkout,
    Payment,
    PaymentRefusal,
    PaymentStatus,
    ProviderEvent,
    RefundReason,
)
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.payments.holds import (
    activate_order,
    cancelled_while_unpaid,
    lock_event,
    lock_order,
    reissue_tickets,
)
from ticketflow.domain.payments.providers import NoticeRejected, PaymentNotice, UnknownCheckout
from ticketflow.domain.payments.refunds import record_refund, ticket_prices
from ticketflow.lib.i18n import N_
from ticketflow.lib.signed_codes import TicketSigner


class LatePaymentPolicy(StrEnum):
    ACCEPT_IF_AVAILABLE = "accept_if_available"
    REFUND = "refund"


class NoticeOutcome(StrEnum):
    PAID = "paid"
    """The order is paid; its tickets are active."""
    PAID_LATE = "paid_late"
    """The hold had expired; seats remained, new tickets were issued."""
    REFUNDED = "refunded"
    """The money could not pay the order and is being returned (see the payment's refusal)."""
    ALREADY_RECORDED = "already_recorded"
    """This payment was reported before (another notification of it): nothing changed."""
    REPLAYED = "replayed"
    """This very notification was handled before: nothing changed."""


@dataclass(frozen=True, slots=True)
class Settlement:
    outcome: NoticeOutcome
    order_id: int
    refusal: PaymentRefusal | None = None


def refusal_for(order: Order, notice: PaymentNotice, policy: LatePaymentPolicy) -> PaymentRefusal | None:
    """Why this money cannot pay this order as it stands (None: it can, maybe late)."""
    if notice.amount_cents != order.amount_cents or notice.currency.upper() != order.currency:
        return PaymentRefusal.AMOUNT_MISMATCH
    if order.status == OrderStatus.PAID:
        return PaymentRefusal.DUPLICATE
    if order.status == OrderStatus.EXPIRED:
        return PaymentRefusal.LATE if policy == LatePaymentPolicy.REFUND else None
    if order.status != OrderStatus.PENDING:
        return PaymentRefusal.ORDER_CLOSED
    return None


async def checkout_order_id(session: AsyncSession, notice: PaymentNotice) -> int:
    """The order the notice's checkout was opened for; refuses notices naming another order."""
    checkout = await session.scalar(
        select(Checkout).where(
            Checkout.provider == notice.provider, Checkout.external_id == notice.checkout_id
        )
    )
    if checkout is None:
        raise UnknownCheckout(N_("no checkout with this id was opened here"))
    if checkout.order_id != notice.order_id:
        raise NoticeRejected(N_("the order named in the notification is not the checkout's order"))
    if notice.amount_cents <= 0:
        raise NoticeRejected(N_("a payment amount must be positive"))
    return checkout.order_id


async def settle(
    session: AsyncSession,
    notice: PaymentNotice,
    *,
    policy: LatePaymentPolicy,
    notifier: Notifier,
    signer: TicketSigner,
    now: dt.datetime,
) -> Settlement:
    """Apply `notice` inside the caller's transaction (the caller commits)."""
    seen = await session.scalar(
        select(ProviderEvent.id).where(
            ProviderEvent.provider == notice.provider, ProviderEvent.event_id == notice.event_id
        )
    )
    if seen is not None:
        return Settlement(NoticeOutcome.REPLAYED, notice.order_id)
    order_id = await checkout_order_id(session, notice)
    event_id = await session.scalar(select(Order.event_id).where(Order.id == order_id))
    if event_id is None:
        raise UnknownCheckout(N_("the checkout's order does not exist"))
    await lock_event(session, event_id, now)
    order = await lock_order(session, order_id)
    if order is None:
        raise UnknownCheckout(N_("the checkout's order does not exist"))
    settlement = await _record_payment(session, order, notice, policy, notifier, signer, now)
    session.add(
        ProviderEvent(
            provider=notice.provider,
            event_id=notice.event_id,
            event_type=notice.event_type,
            order_id=order.id,
            outcome=settlement.outcome,
            received_at=now,
        )
    )
    await session.flush()
    return settlement


async def _record_payment(
    session: AsyncSession,
    order: Order,
    notice: PaymentNotice,
    policy: LatePaymentPolicy,
    notifier: Notifier,
    signer: TicketSigner,
    now: dt.datetime,
) -> Settlement:
    known = await session.scalar(
        select(Payment.id)
        .where(Payment.provider == notice.provider, Payment.provider_payment_id == notice.payment_id)
        .with_for_update()
    )
    if known is not None:
        return Settlement(NoticeOutcome.ALREADY_RECORDED, order.id)
    refusal = refusal_for(order, notice, policy)
    late = order.status == OrderStatus.EXPIRED
    gone = await cancelled_while_unpaid(session, order) if refusal is None else []
    if refusal is None and late and not await reissue_tickets(session, order, signer, now):
        refusal = PaymentRefusal.LATE
    if refusal is None and not late:
        await activate_order(session, order, now)
    payment = Payment(
        order_id=order.id,
        provider=notice.provider,
        provider_payment_id=notice.payment_id,
        amount_cents=notice.amount_cents,
        currency=notice.currency.upper(),
        status=PaymentStatus.REFUSED if refusal else PaymentStatus.ACCEPTED,
        refusal=refusal,
        refunded_cents=0,
        received_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    await session.flush()
    if refusal is not None:
        await record_refund(session, payment, payment.amount_cents, RefundReason.PAYMENT_REFUSED, now)
        return Settlement(NoticeOutcome.REFUNDED, order.id, refusal)
    if gone:
        # Tickets cancelled while the order was unpaid (paid in time or late): what each cost
        # goes back, one refund each.
        prices = await ticket_prices(session, order.id)
        for ticket_id, type_id in gone:
            await record_refund(
                session, payment, prices.get(type_id, 0), RefundReason.TICKETS_GONE, now, ticket_id=ticket_id
            )
    await notifier.tickets_issued(session, order.id)
    return Settlement(NoticeOutcome.PAID_LATE if late else NoticeOutcome.PAID, order.id)
