"""Every scan attempt at the door, successful or not."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, BigIntId, IdMixin, utc_now
from ticketflow.db.types import UTCDateTime

SCANNED_CODE_MAX = 128


class ScanResult(StrEnum):
    VALID = "valid"
    ALREADY_USED = "already_used"
    INVALID = "invalid"


class InvalidReason(StrEnum):
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    UNPAID = "unpaid"
    WRONG_EVENT = "wrong_event"
    EVENT_CANCELLED = "event_cancelled"


class CheckIn(IdMixin, Base):
    __tablename__ = "check_ins"
    __table_args__ = (
        CheckConstraint("result IN ('valid', 'already_used', 'invalid')", name="result_known"),
        Index("ix_check_ins_event_id_scanned_at", "event_id", "scanned_at"),
    )

    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), nullable=True)
    """The ticket's event (None for unknown codes)."""
    door_event_id: Mapped[int | None] = mapped_column(BigIntId, nullable=True)
    """The event the door declared (`event_id` in the scan request), as sent."""
    scanned_code: Mapped[str] = mapped_column(String(SCANNED_CODE_MAX), nullable=False)
    """The code as scanned (cut to 128 characters) - kept for unknown codes too."""
    result: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    scanned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)
