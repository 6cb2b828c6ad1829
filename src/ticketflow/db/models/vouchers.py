"""Vouchers: codes that discount an order, or unlock hidden ticket types, a limited number of times.

A use is taken by one conditional UPDATE (`uses < max_uses`) in the purchase transaction and given
back when the order is cancelled, expires or is refunded; a CHECK constraint backs the limit.
Codes compare byte for byte (`ExactString`: a binary NO PAD collation on MySQL/MariaDB), so
`save10`, `SAVE10` and `SAVE10 ` are three different vouchers.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, BigIntId, IdMixin, TimestampMixin
from ticketflow.db.types import ExactString, UTCDateTime, state_column

VOUCHER_CODE_MAX = 64


class VoucherKind(StrEnum):
    PERCENT = "percent"
    """`value` percent off each ticket of the types it applies to."""
    AMOUNT = "amount"
    """`value` cents off each ticket (never below 0)."""
    FIXED_PRICE = "fixed_price"
    """Each ticket costs `value` cents (never more than its price)."""


voucher_ticket_types = Table(
    "voucher_ticket_types",
    Base.metadata,
    Column("voucher_id", BigIntId, ForeignKey("vouchers.id", ondelete="CASCADE"), primary_key=True),
    Column("ticket_type_id", BigIntId, ForeignKey("ticket_types.id", ondelete="CASCADE"), primary_key=True),
)
"""The types a voucher applies to; none: every type of its event."""


class Voucher(IdMixin, TimestampMixin, Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("event_id", "code"),
        CheckConstraint("kind IN ('percent', 'amount', 'fixed_price')", name="kind_known"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        CheckConstraint("kind <> 'percent' OR value <= 100", name="percent_in_range"),
        CheckConstraint("max_uses IS NULL OR max_uses >= 1", name="max_uses_positive"),
        CheckConstraint("uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name="not_overused"),
    )

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(ExactString(VOUCHER_CODE_MAX), nullable=False)
    kind: Mapped[VoucherKind] = mapped_column(state_column(VoucherKind), nullable=False)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    """A percentage for `percent`, cents for `amount` and `fixed_price`."""
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Orders that may redeem it; None: no limit."""
    uses: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    valid_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unlocks_hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    def __str__(self) -> str:
        return self.code
