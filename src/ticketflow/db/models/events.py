"""Events on sale, with their inventory counters."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin
from ticketflow.db.types import UTCDateTime, state_column

TITLE_MAX = 200
VENUE_MAX = 200
DESCRIPTION_MAX = 5000
TIMEZONE_MAX = 64


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Event(IdMixin, TimestampMixin, Base):
    """An event and its seat inventory.

    Invariant, enforced by the database: `tickets_sold + tickets_held <= capacity`.
    `tickets_sold` counts active and used tickets, `tickets_held` pending ones (unpaid orders).
    Both counters only change through single conditional UPDATE statements in the ticket service.
    """

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("tickets_sold >= 0 AND tickets_held >= 0", name="counters_not_negative"),
        CheckConstraint("tickets_sold + tickets_held <= capacity", name="not_oversold"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("max_per_order >= 1", name="max_per_order_positive"),
        CheckConstraint("status IN ('scheduled', 'cancelled')", name="status_known"),
        Index("ix_events_status_starts_at", "status", "starts_at"),
    )

    title: Mapped[str] = mapped_column(String(TITLE_MAX), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    venue: Mapped[str] = mapped_column(String(VENUE_MAX), nullable=False)
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_MAX), nullable=False, default="UTC")
    """IANA zone used to show local dates and times (e-mails, calendar files)."""
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sales_start_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sales_end_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    tickets_sold: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    tickets_held: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    price_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="EUR")
    max_per_order: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    status: Mapped[EventStatus] = mapped_column(
        state_column(EventStatus), nullable=False, default=EventStatus.SCHEDULED
    )
    admin_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )

    @property
    def tickets_available(self) -> int:
        return max(self.capacity - self.tickets_sold - self.tickets_held, 0)

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED

    def __str__(self) -> str:
        return self.title
