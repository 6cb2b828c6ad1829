"""Door validation: one atomic `active -> used` change per ticket, every scan logged.

The state change is a single conditional UPDATE (`... WHERE code = :code AND status = 'active'`).
Of any number of simultaneous scans of one ticket, across any number of processes, the database
lets exactly one of them match the row; the others see `used` and answer `already_used`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import SCANNED_CODE_MAX, CheckIn, InvalidReason, ScanResult
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import User


@dataclass(slots=True)
class ScanOutcome:
    result: ScanResult
    reason: InvalidReason | None
    ticket: Ticket | None
    event: Event | None
    holder: User | None
    scanned_at: dt.datetime


def invalid_reason(ticket: Ticket, event: Event, door_event_id: int | None) -> InvalidReason | None:
    """Why a ticket that was not just admitted is refused (None: it was used before)."""
    if door_event_id is not None and ticket.event_id != door_event_id:
        return InvalidReason.WRONG_EVENT
    if event.status == EventStatus.CANCELLED:
        return InvalidReason.EVENT_CANCELLED
    if ticket.status == TicketStatus.CANCELLED:
        return InvalidReason.CANCELLED
    if ticket.status == TicketStatus.PENDING:
        return InvalidReason.UNPAID
    return None


class CheckInService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def validate_ticket(self, *, code: str, door_event_id: int | None, scanner: User) -> ScanOutcome:
        """Admit the ticket with `code` if it may enter now; record the attempt either way."""
        now = utc_now()
        conditions = [
            Ticket.code == code,
            Ticket.status == TicketStatus.ACTIVE,
            Ticket.event_id.in_(select(Event.id).where(Event.status == EventStatus.SCHEDULED)),
        ]
        if door_event_id is not None:
            conditions.append(Ticket.event_id == door_event_id)
        admitted = await self.session.execute(
            update(Ticket)
            .where(*conditions)
            .values(status=TicketStatus.USED, used_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        row = (
            await self.session.execute(
                select(Ticket, Event, User)
                .join(Event, Event.id == Ticket.event_id)
                .join(User, User.id == Ticket.user_id)
                .where(Ticket.code == code)
                .execution_options(populate_existing=True)
            )
        ).first()
        if row is None:
            outcome = ScanOutcome(ScanResult.INVALID, InvalidReason.UNKNOWN, None, None, None, now)
        else:
            ticket, event, holder = row.tuple()
            if admitted.rowcount == 1:  # type: ignore[attr-defined]
                outcome = ScanOutcome(ScanResult.VALID, None, ticket, event, holder, now)
            else:
                reason = invalid_reason(ticket, event, door_event_id)
                result = ScanResult.ALREADY_USED if reason is None else ScanResult.INVALID
                outcome = ScanOutcome(result, reason, ticket, event, holder, now)
        await self.session.execute(
            insert(CheckIn).values(
                ticket_id=outcome.ticket.id if outcome.ticket else None,
                event_id=outcome.ticket.event_id if outcome.ticket else None,
                door_event_id=door_event_id,
                scanned_code=code[:SCANNED_CODE_MAX],
                result=outcome.result,
                reason=outcome.reason,
                scanned_by_id=scanner.id,
                scanned_at=now,
            )
        )
        await self.session.commit()
        return outcome
