"""Ticket types of an event (early bird, VIP, student...) and the order lines that sell them.

Counting rule: every type carries `sold` (active and used tickets) and `held` (pending tickets of
unpaid orders), changed in the same transactions and under the same event row lock as the event's
`tickets_sold` / `tickets_held`. The event's `capacity` stays the total across its types; a type's
own `capacity` (optional) caps it inside that total. So a type's seats left are
min(type capacity - sold - held, event capacity - event sold - event held).

Tax rates are stored in basis points (1/100 of a percent: 2000 = 20 %, 550 = 5.5 %), integers
like every amount here; the API shows them as a percentage.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin
from ticketflow.db.types import UTCDateTime

TYPE_NAME_MAX = 120
TYPE_DESCRIPTION_MAX = 2000
DEFAULT_TYPE_NAME = "General admission"
"""The one type of an event created with a single price and capacity."""
BASIS_POINTS_PER_PERCENT = 100
MAX_TAX_RATE_BP = 10_000


class TicketType(IdMixin, TimestampMixin, Base):
    __tablename__ = "ticket_types"
    __table_args__ = (
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("sold >= 0 AND held >= 0", name="counters_not_negative"),
        CheckConstraint("capacity IS NULL OR sold + held <= capacity", name="not_oversold"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("tax_rate_bp >= 0 AND tax_rate_bp <= 10000", name="tax_rate_in_range"),
        CheckConstraint("max_per_order IS NULL OR max_per_order >= 1", name="max_per_order_positive"),
        Index("ix_ticket_types_event_id_position", "event_id", "position"),
    )

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(TYPE_NAME_MAX), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    price_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Tax included in the price, in basis points (2000 = 20 %)."""
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Its own cap inside the event's capacity; None: only the event's capacity limits it."""
    sold: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    held: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_per_order: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """None: the event's `max_per_order`."""
    sales_start_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sales_end_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    """Sold only with a voucher that unlocks hidden types."""
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    @property
    def remaining(self) -> int | None:
        """Seats left under the type's own cap (None: no cap of its own)."""
        return None if self.capacity is None else max(self.capacity - self.sold - self.held, 0)

    @property
    def tax_rate(self) -> float:
        return self.tax_rate_bp / BASIS_POINTS_PER_PERCENT

    def __str__(self) -> str:
        return self.name


class OrderLine(IdMixin, Base):
    """What an order bought of one type, priced when it was bought (name and price kept)."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price_cents >= 0 AND discount_cents >= 0", name="amounts_not_negative"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_types.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(TYPE_NAME_MAX), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    discount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    """Discount on the whole line (all its tickets)."""
    tax_rate_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """quantity x unit price - discount."""
