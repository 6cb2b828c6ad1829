"""Refunds: recorded in the transaction that decides them, carried out by the worker.

Recording never calls a provider: it adds a `pending` refund row and raises the refunded sums
with conditional UPDATEs (`... WHERE refunded_cents + :amount <= amount_cents`), so no payment is
ever refunded beyond what it paid, whatever runs concurrently. The worker then claims due rows,
asks the provider that took the payment (with the refund id as idempotency key, so a retry never
pays twice) and backs off after failures until the provider answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketflow.db.base import utc_now
from ticketflow.db.models.orders import Order
from ticketflow.db.models.payments import (
    REFUND_ERROR_MAX,
    Payment,
    PaymentStatus,
    Refund,
    RefundReason,
    RefundStatus,
)
from ticketflow.db.models.ticket_types import OrderLine
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.payments.holds import rowcount
from ticketflow.domain.payments.providers import (
    PaymentProvider,
    ProviderError,
    RefundRequest,
    idempotency_key,
)

logger = logging.getLogger("ticketflow.payments")

REFUND_BATCH = 20
REFUND_MAX_ATTEMPTS = 12
"""After this many failed attempts (about a day of back-off) a refund is `failed`: a person looks."""
REFUND_CLAIM_SECONDS = 120
"""A claimed refund is not retried by another worker before this (the provider call runs meanwhile)."""
REFUND_BACKOFF_MAX_SECONDS = 3600


def refund_backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt: 30 s, 1 min, 2 min, ... capped at an hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), REFUND_BACKOFF_MAX_SECONDS))


async def record_refund(
    session: AsyncSession,
    payment: Payment,
    amount_cents: int,
    reason: RefundReason,
    now: dt.datetime,
    *,
    ticket_id: int | None = None,
) -> Refund | None:
    """Owe `amount_cents` of `payment` back; None when that would exceed what it paid."""
    if amount_cents <= 0:
        return None
    if ticket_id is not None:
        already = await session.scalar(select(Refund.id).where(Refund.ticket_id == ticket_id))
        if already is not None:
            return None
    raised = await session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.refunded_cents + amount_cents <= Payment.amount_cents)
        .values(refunded_cents=Payment.refunded_cents + amount_cents, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(raised) != 1:
        return None
    if payment.status == PaymentStatus.ACCEPTED:
        # The order's own money: what the buyer sees as refunded on the order.
        await session.execute(
            update(Order)
            .where(Order.id == payment.order_id)
            .values(refunded_cents=Order.refunded_cents + amount_cents, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        ticket_id=ticket_id,
        amount_cents=amount_cents,
        currency=payment.currency,
        reason=reason,
        status=RefundStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(refund)
    await session.flush()
    return refund


async def accepted_payment(session: AsyncSession, order_id: int) -> Payment | None:
    """The payment that paid the order (at most one is ever accepted), as committed now, locked.

    A locking read: the caller holds the event's lock, maybe after waiting for it behind the
    payment's own transaction; MariaDB's plain read would show the snapshot from before that wait
    (no payment yet, or an older `refunded_cents`), and the refund would be skipped or refused."""
    return await session.scalar(
        select(Payment)
        .where(Payment.order_id == order_id, Payment.status == PaymentStatus.ACCEPTED)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def ticket_prices(session: AsyncSession, order_id: int) -> dict[int, int]:
    """What one ticket of each type of the order was paid: its line's amount (discount taken off)
    over its quantity. A voucher takes the same off every ticket of a line, so the division is
    exact; rounding down would keep refunds within the payment anyway."""
    lines = await session.execute(
        select(OrderLine.ticket_type_id, OrderLine.amount_cents, OrderLine.quantity).where(
            OrderLine.order_id == order_id
        )
    )
    return {type_id: amount // quantity for type_id, amount, quantity in lines}


async def refund_one_ticket(session: AsyncSession, order: Order, ticket: Ticket, now: dt.datetime) -> None:
    """A cancelled ticket of a paid order: what was paid for it goes back."""
    payment = await accepted_payment(session, order.id)
    if payment is None:
        return
    paid = (await ticket_prices(session, order.id)).get(ticket.ticket_type_id, 0)
    await record_refund(session, payment, paid, RefundReason.TICKET_CANCELLED, now, ticket_id=ticket.id)


async def refund_remainder(session: AsyncSession, order: Order, now: dt.datetime) -> None:
    """Everything of the order's payment not refunded yet goes back (its event was cancelled)."""
    payment = await accepted_payment(session, order.id)
    if payment is None:
        return
    await record_refund(
        session, payment, payment.amount_cents - payment.refunded_cents, RefundReason.EVENT_CANCELLED, now
    )


async def claim_due_refunds(session_maker: async_sessionmaker[AsyncSession], now: dt.datetime) -> list[int]:
    """Refunds due now, claimed by this worker (a conditional UPDATE each: no two workers share one)."""
    async with session_maker() as session:
        due = list(
            await session.scalars(
                select(Refund.id)
                .where(Refund.status == RefundStatus.PENDING, Refund.next_attempt_at <= now)
                .order_by(Refund.next_attempt_at, Refund.id)
                .limit(REFUND_BATCH)
            )
        )
        claimed = []
        for refund_id in due:
            taken = await session.execute(
                update(Refund)
                .where(
                    Refund.id == refund_id,
                    Refund.status == RefundStatus.PENDING,
                    Refund.next_attempt_at <= now,
                )
                .values(
                    attempts=Refund.attempts + 1,
                    next_attempt_at=now + dt.timedelta(seconds=REFUND_CLAIM_SECONDS),
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(taken) == 1:
                claimed.append(refund_id)
        await session.commit()
    return claimed


async def carry_out_refund(
    session_maker: async_sessionmaker[AsyncSession],
    providers: Mapping[str, PaymentProvider],
    refund_id: int,
) -> bool:
    """Ask the provider to pay one claimed refund; record the answer. True when it succeeded."""
    async with session_maker() as session:
        row = (
            await session.execute(
                select(Refund, Payment)
                .join(Payment, Payment.id == Refund.payment_id)
                .where(Refund.id == refund_id)
            )
        ).first()
        await session.commit()
    if row is None:
        return False
    refund, payment = row
    provider = providers.get(payment.provider)
    error: str | None = None
    provider_refund_id: str | None = None
    if provider is None:
        error = f"payment provider {payment.provider!r} is not configured"
    else:
        try:
            provider_refund_id = await provider.refund(
                RefundRequest(
                    refund_id=refund.id,
                    order_id=refund.order_id,
                    provider_payment_id=payment.provider_payment_id,
                    amount_cents=refund.amount_cents,
                    currency=refund.currency,
                    idempotency_key=idempotency_key("refund", refund.id, refund.created_at),
                )
            )
        except ProviderError as exc:
            error = str(exc) or type(exc).__name__
    now = utc_now()
    if error is None:
        values: dict[str, object] = {
            "status": RefundStatus.SUCCEEDED,
            "provider_refund_id": provider_refund_id,
            "refunded_at": now,
            "last_error": None,
        }
    else:
        gave_up = refund.attempts >= REFUND_MAX_ATTEMPTS
        logger.warning("refund %s failed (attempt %s): %s", refund.id, refund.attempts, error)
        values = {
            "status": RefundStatus.FAILED if gave_up else RefundStatus.PENDING,
            "next_attempt_at": now + refund_backoff(refund.attempts),
            "last_error": error[:REFUND_ERROR_MAX],
        }
    async with session_maker() as session:
        await session.execute(
            update(Refund)
            .where(Refund.id == refund.id, Refund.status == RefundStatus.PENDING)
            .values(updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return error is None


async def carry_out_due_refunds(
    session_maker: async_sessionmaker[AsyncSession], providers: Mapping[str, PaymentProvider]
) -> int:
    """One pass of the refund job: returns how many refunds were attempted."""
    claimed = await claim_due_refunds(session_maker, utc_now())
    for refund_id in claimed:
        await carry_out_refund(session_maker, providers, refund_id)
    return len(claimed)
