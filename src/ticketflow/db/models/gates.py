"""Gates (check-in lists) of an event and the scanner devices paired to them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin
from ticketflow.db.types import UTCDateTime, secret_digest

GATE_NAME_MAX = 100
SCANNER_NAME_MAX = 100
SECRET_HASH_BYTES = 32
"""SHA-256 digests of pairing codes and scanner tokens: binary, so compared byte for byte."""


class Gate(IdMixin, TimestampMixin, Base):
    """A door of an event: which ticket types it admits, whether re-entry is allowed, its counters.

    `ticket_type_ids` empty: the gate admits every ticket of the event. The counters only change
    with the scan that moves them, in the scan's transaction.
    """

    __tablename__ = "gates"
    __table_args__ = (
        CheckConstraint("admitted >= 0 AND inside >= 0 AND refused >= 0", name="counters_not_negative"),
    )

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(GATE_NAME_MAX), nullable=False)
    ticket_type_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    allow_reentry: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    admitted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Admissions through this gate, re-entries included."""
    inside: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    refused: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Scanner(IdMixin, TimestampMixin, Base):
    """A door device of one event (and optionally one gate), paired once with a one-time code.

    Only SHA-256 digests of the pairing code and of the device's token are stored. Pairing
    clears the code's digest in the same conditional UPDATE that sets the token's, so a code
    pairs at most one device.
    """

    __tablename__ = "scanners"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gates.id", ondelete="SET NULL"), nullable=True)
    name: Mapped[str] = mapped_column(String(SCANNER_NAME_MAX), nullable=False)
    pairing_code_hash: Mapped[bytes | None] = mapped_column(
        secret_digest(SECRET_HASH_BYTES), nullable=True, unique=True
    )
    pairing_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    token_hash: Mapped[bytes | None] = mapped_column(
        secret_digest(SECRET_HASH_BYTES), nullable=True, unique=True
    )
    paired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
