"""Every scan attempt at the door, successful or not."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, BigIntId, IdMixin, utc_now
from ticketflow.db.types import ExactString, UTCDateTime

SCANNED_CODE_MAX = 128


class ScanResult(StrEnum):
    VALID = "valid"
    ALREADY_USED = "already_used"
    INVALID = "invalid"
    EXITED = "exited"
    REVERTED = "reverted"
    """Not a scan: an admin undid the admission `reverts_id`."""


class InvalidReason(StrEnum):
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    UNPAID = "unpaid"
    WRONG_EVENT = "wrong_event"
    EVENT_CANCELLED = "event_cancelled"
    WRONG_GATE = "wrong_gate"


RESULTS_KNOWN = "result IN ('valid', 'already_used', 'invalid', 'exited', 'reverted')"


class CheckIn(IdMixin, Base):
    __tablename__ = "check_ins"
    __table_args__ = (
        CheckConstraint(RESULTS_KNOWN, name="result_known"),
        Index("ix_check_ins_event_id_scanned_at", "event_id", "scanned_at"),
    )

    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), nullable=True)
    """The ticket's event (None for unknown codes)."""
    door_event_id: Mapped[int | None] = mapped_column(BigIntId, nullable=True)
    """The event the door declared (`event_id` in the scan request), as sent."""
    scanned_code: Mapped[str] = mapped_column(ExactString(SCANNED_CODE_MAX), nullable=False)
    """The code as scanned (cut to 128 characters) - kept for unknown codes too."""
    result: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    scanned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gates.id", ondelete="SET NULL"), nullable=True)
    scanner_id: Mapped[int | None] = mapped_column(
        ForeignKey("scanners.id", ondelete="SET NULL"), nullable=True, index=True
    )
    """The paired device that scanned (None: a staff or admin account)."""
    reverts_id: Mapped[int | None] = mapped_column(ForeignKey("check_ins.id"), nullable=True, unique=True)
    """For a `reverted` row: the admission it undid (each admission is undone at most once)."""
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)
