"""Money: checkouts opened with a provider, payments received, refunds owed, provider events seen."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin, utc_now
from ticketflow.db.types import ExactString, UTCDateTime, state_column

PROVIDER_MAX = 32
PROVIDER_ID_MAX = 255
CHECKOUT_URL_MAX = 2048
CHECKOUT_TOKEN_MAX = 64
EVENT_TYPE_MAX = 64
REFUND_ERROR_MAX = 500


class PaymentStatus(StrEnum):
    ACCEPTED = "accepted"
    """The money paid the order."""
    REFUSED = "refused"
    """The money could not pay the order (see `refusal`); it is refunded in full."""


class PaymentRefusal(StrEnum):
    DUPLICATE = "duplicate"
    """The order was already paid by another payment."""
    LATE = "late"
    """The hold expired and the seats (or its voucher's uses) were gone, or the late payment policy
    refuses late money."""
    ORDER_CLOSED = "order_closed"
    """The order was cancelled (or its event) before the money arrived."""
    AMOUNT_MISMATCH = "amount_mismatch"
    """The provider reported another amount or currency than the order's."""


class RefundStatus(StrEnum):
    PENDING = "pending"
    """Recorded; the worker asks the provider (again, after a failure) until it succeeds."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The provider kept refusing; needs a person."""


class RefundReason(StrEnum):
    TICKET_CANCELLED = "ticket_cancelled"
    EVENT_CANCELLED = "event_cancelled"
    PAYMENT_REFUSED = "payment_refused"
    """The whole payment is returned (see `Payment.refusal`)."""
    TICKETS_GONE = "tickets_gone"
    """What a ticket cancelled while its order was unpaid cost, from the payment that came after."""


class Checkout(IdMixin, TimestampMixin, Base):
    """The page where the buyer pays one pending order (one per order, reused on retries)."""

    __tablename__ = "payment_checkouts"
    __table_args__ = (
        UniqueConstraint("order_id"),
        UniqueConstraint("provider", "external_id"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False)
    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX), nullable=False)
    external_id: Mapped[str] = mapped_column(ExactString(PROVIDER_ID_MAX), nullable=False)
    """The provider's id of the checkout (a Stripe Checkout Session id)."""
    url: Mapped[str] = mapped_column(String(CHECKOUT_URL_MAX), nullable=False)
    access_token: Mapped[str | None] = mapped_column(ExactString(CHECKOUT_TOKEN_MAX), nullable=True)
    """Secret in the URL of the simulated checkout page (the browser has no bearer token)."""
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)


class Payment(IdMixin, TimestampMixin, Base):
    """Money a provider reported as received for an order, accepted or refused; never deleted."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_id"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refund_within_amount"
        ),
        CheckConstraint("status IN ('accepted', 'refused')", name="status_known"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX), nullable=False)
    provider_payment_id: Mapped[str] = mapped_column(ExactString(PROVIDER_ID_MAX), nullable=False)
    """The provider's id of the money movement (a Stripe PaymentIntent): one row per payment."""
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[PaymentStatus] = mapped_column(state_column(PaymentStatus), nullable=False)
    refusal: Mapped[str | None] = mapped_column(String(32), nullable=True)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    """Sum of the refunds recorded against this payment (pending ones included)."""
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)


class Refund(IdMixin, TimestampMixin, Base):
    """Money owed back on a payment: recorded in the transaction that decides it, paid by the worker."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("ticket_id"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
        Index("ix_refunds_status_next_attempt_at", "status", "next_attempt_at"),
    )

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), nullable=False, index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    """The cancelled ticket this refund pays back (a ticket is refunded at most once)."""
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[RefundStatus] = mapped_column(
        state_column(RefundStatus), nullable=False, default=RefundStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)
    last_error: Mapped[str | None] = mapped_column(String(REFUND_ERROR_MAX), nullable=True)
    provider_refund_id: Mapped[str | None] = mapped_column(ExactString(PROVIDER_ID_MAX), nullable=True)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ProviderEvent(IdMixin, Base):
    """Every provider notification acted upon, by its id: a replayed one changes nothing."""

    __tablename__ = "payment_provider_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX), nullable=False)
    event_id: Mapped[str] = mapped_column(ExactString(PROVIDER_ID_MAX), nullable=False)
    event_type: Mapped[str] = mapped_column(String(EVENT_TYPE_MAX), nullable=False)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)
