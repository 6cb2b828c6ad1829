"""The e-mail outbox: every message to send, written in the transaction that causes it.

A row is `pending` until a worker claims it (`sending`, with a lease until `next_attempt_at`),
then `sent`, back to `pending` with a later `next_attempt_at` after a temporary failure, or
`failed` once `OUTBOX_MAX_ATTEMPTS` are used up (kept for admins to inspect and retry).
`skipped` means there was nothing left to say when its turn came (e.g. the order's tickets were
all cancelled before the ticket e-mail went out).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin
from ticketflow.db.types import ExactString, UTCDateTime, state_column

KIND_MAX = 32
RECIPIENT_MAX = 254
RECIPIENT_NAME_MAX = 120
MESSAGE_ID_MAX = 128
CLAIM_TOKEN_MAX = 64
LAST_ERROR_MAX = 1000


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class MessageKind(StrEnum):
    TICKETS = "tickets"
    """The ticket e-mail of an order: every live ticket with its QR code, and the calendar file."""
    TICKET_CANCELLED = "ticket_cancelled"
    EVENT_CANCELLED = "event_cancelled"
    EVENT_CHANGED = "event_changed"
    TICKET_TRANSFERRED = "ticket_transferred"
    """To the holder who gave a ticket away: it is no longer theirs, its old code is void."""
    TICKET_RECEIVED = "ticket_received"
    """To the new holder of a transferred ticket: the ticket with its new QR code."""


class OutboxMessage(IdMixin, TimestampMixin, Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'skipped')", name="status_known"),
        CheckConstraint(
            "kind IN ('tickets', 'ticket_cancelled', 'event_cancelled', 'event_changed',"
            " 'ticket_transferred', 'ticket_received')",
            name="kind_known",
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    kind: Mapped[MessageKind] = mapped_column(state_column(MessageKind, KIND_MAX), nullable=False)
    status: Mapped[OutboxStatus] = mapped_column(
        state_column(OutboxStatus), nullable=False, default=OutboxStatus.PENDING
    )
    message_id: Mapped[str] = mapped_column(ExactString(MESSAGE_ID_MAX), nullable=False, unique=True)
    """The `Message-ID` header, fixed when queued: a repeated delivery carries the same one."""
    recipient: Mapped[str] = mapped_column(String(RECIPIENT_MAX), nullable=False)
    """The address the message goes to, as it was when the message was queued."""
    recipient_name: Mapped[str] = mapped_column(String(RECIPIENT_NAME_MAX), nullable=False)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="SET NULL"), nullable=True, index=True
    )
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True, index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    payload: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    """JSON: what the message needs beyond the references (e.g. an event's previous time)."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Delivery attempts started (counted when a worker claims the message)."""
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    """When the message is due; while `sending`, when the worker's claim expires."""
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(ExactString(CLAIM_TOKEN_MAX), nullable=True)
    """The claim token of the worker pass that holds (or last held) the message."""
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
