"""Tickets: one admission each, identified at the door by an unguessable code."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin, utc_now
from ticketflow.db.models.users import NAME_MAX
from ticketflow.db.types import ExactString, UTCDateTime, state_column

CODE_MAX = 128
"""A signed `tf2.` code is 111 characters, a `tf1.` code 47; the scan log keeps 128 of a scan too."""
FIRST_CODE_VERSION = 1


class TicketStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    USED = "used"
    CANCELLED = "cancelled"


SEAT_TAKING_STATUSES = (TicketStatus.PENDING, TicketStatus.ACTIVE, TicketStatus.USED)


def attendee_or_holder(attendee_name: str | None, holder_name: str) -> str:
    """Who attends with a ticket: the attendee named for it, else the user who holds it. The door's
    hand statement says the same in SQL (`ATTENDEE_OR_HOLDER` in domain/checkin/statements.py)."""
    return attendee_name or holder_name


def code_to_show(status: str, code: str) -> str:
    """The code a ticket's holder (or anyone) is shown: none while the ticket is unpaid. An unpaid
    ticket's signed code would pass an offline door, which cannot know about payments; shown only
    once paid, it never reaches a door before it may admit. The code does not change on payment."""
    return "" if status == TicketStatus.PENDING else code


class Ticket(IdMixin, TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'active', 'used', 'cancelled')", name="status_known"),
        CheckConstraint("status <> 'used' OR used_at IS NOT NULL", name="used_has_time"),
        CheckConstraint("code_version >= 1", name="code_version_positive"),
        # not by status: every admission changes a ticket's status, and an index on it would move
        # the ticket's entry each time (docs/PERFORMANCE.md, migration 0018); by event and holder,
        # so that a buyer's tickets of one event are one range (the held-seats count locks them)
        Index("ix_tickets_event_id_user_id", "event_id", "user_id"),
        Index("ix_tickets_user_id_created_at", "user_id", "created_at"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), nullable=False)
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_types.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(ExactString(CODE_MAX), nullable=False, unique=True)
    """The string in the QR code: `tf2.` and a signed payload (lib/signed_codes.py), or on tickets
    issued before signed codes `tf1.` and 256 random bits."""
    code_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=FIRST_CODE_VERSION, server_default=str(FIRST_CODE_VERSION)
    )
    """The version a `tf2.` code must carry to be valid: a reissue (transfer) bumps it, and every
    earlier code of the ticket is revoked."""
    status: Mapped[TicketStatus] = mapped_column(state_column(TicketStatus), nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Set by an out-scan: a used ticket without it is inside. An admission clears it."""
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attendee_name: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
    """Who attends with this ticket when the holder named someone; None: the holder."""


class TicketTransfer(IdMixin, Base):
    """One change of a ticket's holder: the chain of its holders, and the code it revoked."""

    __tablename__ = "ticket_transfers"
    __table_args__ = (
        UniqueConstraint("ticket_id", "old_version", name="uq_ticket_transfers_ticket_id_old_version"),
        Index("ix_ticket_transfers_transferred_at", "transferred_at"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), nullable=False)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    """Who asked for it: the holder, or an admin."""
    old_version: Mapped[int] = mapped_column(Integer, nullable=False)
    """The code version it revoked (the ticket's new version is the next one); unique per ticket,
    so a version is transferred away once."""
    old_code: Mapped[str] = mapped_column(ExactString(CODE_MAX), nullable=False, index=True)
    """The code it revoked: a `tf1.` code is found here when scanned after the transfer."""
    transferred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)


class ReplacedCode(IdMixin, Base):
    """A `tf1.` code a reissue replaced (with the signed code of the ticket's next version). Scanned
    afterwards it admits no one and is answered as a code never issued, while the scan log names
    its ticket. A signed code needs no row: it carries its ticket and version."""

    __tablename__ = "replaced_codes"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), nullable=False, index=True)
    old_version: Mapped[int] = mapped_column(Integer, nullable=False)
    """The ticket's version that had the code."""
    old_code: Mapped[str] = mapped_column(ExactString(CODE_MAX), nullable=False, unique=True)
    """A ticket has its `tf1.` code until its first new code, so a code is replaced once."""
    replaced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utc_now)
