"""Gates (check-in lists) of an event and the scanner devices paired to them."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import JSON, Boolean, ColumnElement, ForeignKey, Integer, SmallInteger, String, case, func
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin
from ticketflow.db.types import UTCDateTime, secret_digest

GATE_NAME_MAX = 100
SCANNER_NAME_MAX = 100
SECRET_HASH_BYTES = 32
"""SHA-256 digests of pairing codes and scanner tokens: binary, so compared byte for byte."""
GATE_COUNTER_SLOTS = 16
"""Rows of counters per gate (`GateCounter`): scans at one gate add to different rows at once."""
RULE_VERSION_START_BELOW = 2**30
"""A gate's first rule version is below this (`first_rule_version`); `rule_version` is a signed
32-bit integer, so a gate can change about a billion times more."""


def first_rule_version() -> int:
    """A new gate's first rule version, at random: a gate made after another was deleted may get
    that gate's id (SQLite gives the highest id again), and the door may still hold the deleted
    gate's rule by id and version. Two gates of one id meet at a version with odds of about 1 in
    2**30 for each version the new one reaches; a count from 0 would meet at once, at 0."""
    return secrets.randbelow(RULE_VERSION_START_BELOW)


class Gate(IdMixin, TimestampMixin, Base):
    """A door of an event: which ticket types it admits, whether re-entry is allowed.

    `ticket_type_ids` empty: the gate admits every ticket of the event. Its counters are the
    `GateCounter` rows of the gate, created with it.
    """

    __tablename__ = "gates"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(GATE_NAME_MAX), nullable=False)
    ticket_type_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    allow_reentry: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    rule_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=first_rule_version, server_default="0"
    )
    """One more with every change of the gate (`GateService.update_gate`, in SQL: no change is
    lost): the door reads a gate's rule again only when its version is not the one it holds.
    It starts at a random number (`first_rule_version`)."""


class GateCounter(Base):
    """One of a gate's `GATE_COUNTER_SLOTS` rows of counters: the gate's admitted, refused and
    inside are the sums of its rows (`counter_sums`).

    A scan adds to one row (`counter_slot` of its device's id, or of its scan-log row's id) in the
    last request of its transaction (its last statement, sent with its log row), so the row is
    locked only until the commit, and the scans of a gate's devices wait for each other only when
    their ids share a slot. The scan log has no
    foreign key to this table (it has one to `gates`, which the counters no longer live in). One
    row's figures mean nothing alone: `inside` goes below zero in a row a ticket left through
    after coming in through another; the sum is clamped at zero when read.
    """

    __tablename__ = "gate_counters"

    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id", ondelete="CASCADE"), primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    admitted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Admissions through this gate, re-entries included."""
    refused: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    inside: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


def counter_slot(number: int) -> int:
    """The counter row a change numbered `number` (a scan-log row's id, a device's id) adds to."""
    return number % GATE_COUNTER_SLOTS


def new_counters(gate_id: int) -> list[GateCounter]:
    """The counter rows of a new gate, all zero."""
    return [
        GateCounter(gate_id=gate_id, slot=slot, admitted=0, refused=0, inside=0)
        for slot in range(GATE_COUNTER_SLOTS)
    ]


def counter_sums() -> tuple[ColumnElement[int], ColumnElement[int], ColumnElement[int]]:
    """A gate's admitted, inside and refused from its counter rows (`inside` clamped at zero), for
    a query grouped by `GateCounter.gate_id`."""
    inside = func.coalesce(func.sum(GateCounter.inside), 0)
    return (
        func.coalesce(func.sum(GateCounter.admitted), 0),
        case((inside < 0, 0), else_=inside),
        func.coalesce(func.sum(GateCounter.refused), 0),
    )


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


class ScannerSync(Base):
    """A device's sync lock: its batches of offline scans take turns on this row (`FOR UPDATE`;
    made with the device). The scan log has no foreign key to it, so the device's own online
    scans never wait for it, and the sync never holds the `scanners` row a scan-log INSERT's
    foreign key check takes a shared lock on."""

    __tablename__ = "scanner_syncs"

    scanner_id: Mapped[int] = mapped_column(
        ForeignKey("scanners.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
