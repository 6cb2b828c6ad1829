"""What a door needs to scan without the server, and the report of what it let in twice.

The scanner bundle: the public keys that verify `tf2.` codes, the event, its ticket types and
gates, and the revocation list. A code is refused offline when its ticket appears in `revoked`
with a version at least the code's: a cancelled ticket (cancelled, refunded, expired unpaid) is
listed with its current version, a reissued one (transfer, reissue after a leak) with the version
before its current one. Versions only grow, so lists merge by keeping the highest version.

The cursor is the server's clock when the bundle was read. A later request with `since` gets the
revocations of tickets changed after `since - CURSOR_OVERLAP`: the overlap covers transactions
that were still running (with an earlier `updated_at`) when the cursor was taken; an entry sent
twice merges to the same list.

The double-admission report lists every ticket with a `duplicate_admission` (an offline
admission found at sync to come after another admission of the same ticket, by scan time), with
all its admissions: the organiser sees which devices and gates let the same code in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import ADMISSIONS, CheckIn, ScanResult
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role, User
from ticketflow.domain.checkin.door import digest
from ticketflow.domain.checkin.offline_schemas import (
    Admission,
    BundleEvent,
    BundleGate,
    BundleTicketType,
    DuplicateAdmission,
    RevokedCode,
    ScannerBundle,
)
from ticketflow.domain.checkin.service import scanner_refused
from ticketflow.lib.errors import AuthenticationFailed, EventNotFound, PermissionDenied, RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.signed_codes import TicketSigner

CURSOR_OVERLAP = dt.timedelta(minutes=5)
SCANNING_ROLES = frozenset({Role.STAFF, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: a staff or admin account (`user_id`), or a paired device and its token."""

    user_id: int | None = None
    scanner_id: int | None = None
    token: str = ""


def cursor_of(moment: dt.datetime) -> str:
    return str(int(moment.timestamp() * 1_000_000))


def moment_of(cursor: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(cursor) / 1_000_000, tz=dt.UTC)
    except (ValueError, OverflowError, OSError) as exc:
        msg = N_("since is not a cursor of this server")
        raise RuleViolation(msg) from exc


class OfflineScanning:
    """The scanner bundle (ORM reads; nothing here writes)."""

    def __init__(self, session: AsyncSession, signer: TicketSigner) -> None:
        self.session = session
        self.signer = signer

    async def _caller_gate(self, caller: Caller, event_id: int) -> int | None:
        """Refuse a caller who may not scan this event; a bound device's gate."""
        if caller.scanner_id is not None:
            scanner = await self.session.get(Scanner, caller.scanner_id)
            now = utc_now()
            if (
                scanner is None
                or scanner.token_hash != digest(caller.token)
                or scanner.revoked_at is not None
                or scanner.expires_at <= now
            ):
                raise scanner_refused()
            if scanner.event_id != event_id:
                raise PermissionDenied(N_("this scanner scans for another event"))
            return scanner.gate_id
        role = await self.session.scalar(select(User.role).where(User.id == caller.user_id))
        if role is None:
            raise AuthenticationFailed(N_("unknown user"))
        if role not in SCANNING_ROLES:
            raise PermissionDenied(N_("only door staff, admins and paired scanners"))
        return None

    async def scanner_bundle(self, caller: Caller, event_id: int, since: str | None) -> ScannerBundle:
        gate_id = await self._caller_gate(caller, event_id)
        now = utc_now()
        changed_after = None if since is None else moment_of(since) - CURSOR_OVERLAP
        event = await self.session.get(Event, event_id)
        if event is None:
            raise EventNotFound
        types = await self.session.execute(
            select(TicketType.id, TicketType.name)
            .where(TicketType.event_id == event_id)
            .order_by(TicketType.id)
        )
        gates = await self.session.scalars(select(Gate).where(Gate.event_id == event_id).order_by(Gate.id))
        return ScannerBundle(
            keys=self.signer.public_keys(),
            event=BundleEvent(
                id=event.id,
                title=event.title,
                venue=event.venue,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                status=event.status,
            ),
            ticket_types=[BundleTicketType(id=row[0], name=row[1]) for row in types],
            gates=[
                BundleGate(
                    id=gate.id,
                    name=gate.name,
                    ticket_type_ids=list(gate.ticket_type_ids),
                    allow_reentry=gate.allow_reentry,
                )
                for gate in gates
            ],
            revoked=await self.revoked(event_id, changed_after),
            cursor=cursor_of(now),
            full=changed_after is None,
            scanner_gate_id=gate_id,
        )

    async def revoked(self, event_id: int, changed_after: dt.datetime | None) -> list[RevokedCode]:
        """The event's revoked codes (all, or of tickets changed after `changed_after`)."""
        statement = select(Ticket.id, Ticket.code_version, Ticket.status).where(
            Ticket.event_id == event_id,
            or_(Ticket.status == TicketStatus.CANCELLED, Ticket.code_version > 1),
        )
        if changed_after is not None:
            statement = statement.where(Ticket.updated_at > changed_after)
        rows = await self.session.execute(statement.order_by(Ticket.id))
        return [
            RevokedCode(ticket_id, version if status == TicketStatus.CANCELLED else version - 1)
            for ticket_id, version, status in rows
        ]


async def duplicate_admissions(
    session: AsyncSession, event_id: int, *, limit: int, offset: int
) -> tuple[list[DuplicateAdmission], int]:
    """Every ticket of the event with a `duplicate_admission`, by ticket id, with all its
    admissions in scan order (`limit`/`offset` count tickets): the report's page and its total.
    The API's and the back office's double-admission report."""
    if await session.scalar(select(Event.id).where(Event.id == event_id)) is None:
        raise EventNotFound
    duplicated = (CheckIn.event_id == event_id, CheckIn.result == ScanResult.DUPLICATE_ADMISSION.value)
    total = await session.scalar(select(func.count(distinct(CheckIn.ticket_id))).where(*duplicated))
    ticket_ids = (
        await session.scalars(
            select(CheckIn.ticket_id)
            .where(*duplicated)
            .group_by(CheckIn.ticket_id)
            .order_by(CheckIn.ticket_id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    admissions = await session.scalars(
        select(CheckIn)
        .where(CheckIn.ticket_id.in_(ticket_ids), CheckIn.result.in_([r.value for r in ADMISSIONS]))
        .order_by(CheckIn.ticket_id, CheckIn.scanned_at, CheckIn.id)
    )
    by_ticket: dict[int, list[Admission]] = {ticket_id: [] for ticket_id in ticket_ids if ticket_id}
    for row in admissions:
        by_ticket[row.ticket_id or 0].append(
            Admission(
                check_in_id=row.id,
                scanner_id=row.scanner_id,
                gate_id=row.gate_id,
                scanned_at=row.scanned_at,
                result=ScanResult(row.result),
                scanned_by_id=row.scanned_by_id,
            )
        )
    items = [DuplicateAdmission(ticket_id, found) for ticket_id, found in by_ticket.items()]
    return items, int(total or 0)
