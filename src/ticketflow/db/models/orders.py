"""Orders: one purchase of one or more tickets of one event."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin
from ticketflow.db.models.vouchers import VOUCHER_CODE_MAX
from ticketflow.db.types import ExactString, UTCDateTime, state_column

IDEMPOTENCY_KEY_MAX = 64


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        CheckConstraint(
            "status IN ('pending', 'paid', 'cancelled', 'expired', 'refunded')", name="status_known"
        ),
        Index("ix_orders_status_expires_at", "status", "expires_at"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), nullable=False, index=True)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[OrderStatus] = mapped_column(state_column(OrderStatus), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(ExactString(IDEMPOTENCY_KEY_MAX), nullable=True)
    """Client-chosen key; unique per user, so a retried purchase buys nothing more."""
    request_fingerprint: Mapped[str | None] = mapped_column(ExactString(64), nullable=True)
    """SHA-256 of the purchase request, to refuse the same key reused for another purchase."""
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Until when a pending order holds its seats."""
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    payment_provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    voucher_id: Mapped[int | None] = mapped_column(
        ForeignKey("vouchers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    """The voucher this order redeemed (one use of it while the order lives)."""
    voucher_code: Mapped[str | None] = mapped_column(String(VOUCHER_CODE_MAX), nullable=True)
    """The code as redeemed, kept when the voucher is deleted."""
