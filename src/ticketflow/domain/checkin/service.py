"""Door validation: one atomic `active -> used` change per ticket, every scan logged.

The state change is a single conditional UPDATE (`... WHERE code = :code AND status = 'active'`).
Of any number of simultaneous scans of one ticket, across any number of processes, the database
lets exactly one of them match the row; the others see `used` and answer `already_used`.

This is the busiest endpoint on the night of a show, so it runs Core statements on one pooled
connection, in one short transaction that also re-reads the scanner's role (no ORM session, no
second connection for authentication).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ticketflow.db.base import table_of, utc_now
from ticketflow.db.models.checkins import SCANNED_CODE_MAX, CheckIn, InvalidReason, ScanResult
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role, User
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied

SCANNER_ROLES = frozenset({Role.STAFF, Role.ADMIN})

tickets = table_of(Ticket)
events = table_of(Event)
users = table_of(User)
check_ins = table_of(CheckIn)


@dataclass(frozen=True, slots=True)
class ScannedTicket:
    """What the door needs to know of a scanned ticket."""

    id: int
    status: str
    event_id: int
    event_title: str
    event_status: str
    holder_name: str
    used_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    result: ScanResult
    reason: InvalidReason | None
    ticket: ScannedTicket | None
    scanned_at: dt.datetime


def invalid_reason(ticket: ScannedTicket, door_event_id: int | None) -> InvalidReason | None:
    """Why a ticket that was not just admitted is refused (None: it was used before)."""
    if door_event_id is not None and ticket.event_id != door_event_id:
        return InvalidReason.WRONG_EVENT
    if ticket.event_status == EventStatus.CANCELLED:
        return InvalidReason.EVENT_CANCELLED
    if ticket.status == TicketStatus.CANCELLED:
        return InvalidReason.CANCELLED
    if ticket.status == TicketStatus.PENDING:
        return InvalidReason.UNPAID
    return None


async def require_role(connection: AsyncConnection, user_id: int, roles: frozenset[str]) -> None:
    """The caller's role as it is now in the database (a demoted user is refused at once)."""
    role = await connection.scalar(select(users.c.role).where(users.c.id == user_id))
    if role is None:
        raise AuthenticationFailed("unknown user")
    if role not in roles:
        raise PermissionDenied("your role does not allow this")


class CheckInService:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def validate_ticket(self, *, code: str, door_event_id: int | None, scanner_id: int) -> ScanOutcome:
        """Admit the ticket with `code` if it may enter now; record the attempt either way."""
        async with self.connection.begin():
            await require_role(self.connection, scanner_id, SCANNER_ROLES)
            now = utc_now()
            conditions = [
                tickets.c.code == code,
                tickets.c.status == TicketStatus.ACTIVE,
                tickets.c.event_id.in_(select(events.c.id).where(events.c.status == EventStatus.SCHEDULED)),
            ]
            if door_event_id is not None:
                conditions.append(tickets.c.event_id == door_event_id)
            admitted = await self.connection.execute(
                update(tickets)
                .where(*conditions)
                .values(status=TicketStatus.USED, used_at=now, updated_at=now)
            )
            row = (
                await self.connection.execute(
                    select(
                        tickets.c.id,
                        tickets.c.status,
                        tickets.c.event_id,
                        events.c.title,
                        events.c.status.label("event_status"),
                        users.c.name,
                        tickets.c.used_at,
                    )
                    .join_from(tickets, events, events.c.id == tickets.c.event_id)
                    .join(users, users.c.id == tickets.c.user_id)
                    .where(tickets.c.code == code)
                )
            ).first()
            outcome = self._outcome(row, admitted.rowcount == 1, door_event_id, now)
            await self.connection.execute(
                insert(check_ins).values(
                    ticket_id=outcome.ticket.id if outcome.ticket else None,
                    event_id=outcome.ticket.event_id if outcome.ticket else None,
                    door_event_id=door_event_id,
                    scanned_code=code[:SCANNED_CODE_MAX],
                    result=outcome.result,
                    reason=outcome.reason,
                    scanned_by_id=scanner_id,
                    scanned_at=now,
                )
            )
        return outcome

    @staticmethod
    def _outcome(row: object, admitted: bool, door_event_id: int | None, now: dt.datetime) -> ScanOutcome:
        if row is None:
            return ScanOutcome(ScanResult.INVALID, InvalidReason.UNKNOWN, None, now)
        ticket = ScannedTicket(*row)  # type: ignore[misc]
        if admitted:
            return ScanOutcome(ScanResult.VALID, None, ticket, now)
        reason = invalid_reason(ticket, door_event_id)
        result = ScanResult.ALREADY_USED if reason is None else ScanResult.INVALID
        return ScanOutcome(result, reason, ticket, now)
