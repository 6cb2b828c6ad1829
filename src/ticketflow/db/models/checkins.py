"""Every scan attempt at the door, successful or not."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
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
    DUPLICATE_ADMISSION = "duplicate_admission"
    """An offline admission of a ticket admitted earlier (by scan time) elsewhere: found at sync."""


ADMISSIONS = (ScanResult.VALID, ScanResult.DUPLICATE_ADMISSION)
"""Results of a scan that let someone in."""


class InvalidReason(StrEnum):
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    UNPAID = "unpaid"
    WRONG_EVENT = "wrong_event"
    EVENT_CANCELLED = "event_cancelled"
    WRONG_GATE = "wrong_gate"
    TRANSFERRED = "transferred"
    """An earlier code of a reissued ticket (its version was revoked)."""
    REFUSED_OFFLINE = "refused_offline"
    """An offline scan the device refused although the server would have admitted it."""


RESULTS_KNOWN = "result IN ('valid', 'already_used', 'invalid', 'exited', 'reverted', 'duplicate_admission')"
RESULT_MAX = 24
CLIENT_ID_MAX = 64


class CheckIn(IdMixin, Base):
    __tablename__ = "check_ins"
    __table_args__ = (
        CheckConstraint(RESULTS_KNOWN, name="result_known"),
        Index("ix_check_ins_event_id_scanned_at", "event_id", "scanned_at"),
        UniqueConstraint("scanner_id", "client_id"),
    )

    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), nullable=True)
    """The ticket's event (None for unknown codes)."""
    door_event_id: Mapped[int | None] = mapped_column(BigIntId, nullable=True)
    """The event the door declared (`event_id` in the scan request), as sent."""
    scanned_code: Mapped[str] = mapped_column(ExactString(SCANNED_CODE_MAX), nullable=False)
    """The code as scanned (cut to 128 characters) - kept for unknown codes too."""
    result: Mapped[str] = mapped_column(String(RESULT_MAX), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    scanned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gates.id", ondelete="SET NULL"), nullable=True)
    scanner_id: Mapped[int | None] = mapped_column(
        ForeignKey("scanners.id", ondelete="SET NULL"), nullable=True
    )
    """The paired device that scanned (None: a staff or admin account); indexed by the unique
    (scanner_id, client_id) pair."""
    reverts_id: Mapped[int | None] = mapped_column(ForeignKey("check_ins.id"), nullable=True, unique=True)
    """For a `reverted` row: the admission it undid (each admission is undone at most once)."""
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)
    client_id: Mapped[str | None] = mapped_column(ExactString(CLIENT_ID_MAX), nullable=True)
    """An offline scan's id made by its device (unique per device): a re-sent scan is found by it."""
    offline_result: Mapped[str | None] = mapped_column(String(RESULT_MAX), nullable=True)
    """What the offline device answered at the door (None: the scan was decided online)."""
    synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When an offline scan reached the server."""
