"""The door's back office: gates, scanner devices and their pairing, the scan log and its undo.

Pairing: an admin creates a scanner and is shown a one-time code once; only its SHA-256 digest is
stored. `pair` swaps the code's digest for the digest of a fresh device token in one conditional
UPDATE (`... WHERE pairing_code_hash = ? AND <not expired, not revoked>`), so of two devices
racing with one code exactly one is paired, and a used code matches nothing.

Undo: an admission is undone by a conditional UPDATE of its ticket back to `active`
(`... WHERE status = 'used'`), a `reverted` row naming the admission (`reverts_id` is unique: an
admission is undone at most once), and, last as a scan does, its gate's counter row of the
admission's id counting one admission fewer, and one fewer inside unless the ticket has left
since. Only a ticket's latest admission can be undone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from functools import partial
from typing import Any

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import table_of, utc_now
from ticketflow.db.driver import again_if_deadlocked
from ticketflow.db.models.checkins import SCANNED_CODE_MAX, CheckIn, ScanResult
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import (
    Gate,
    GateCounter,
    Scanner,
    ScannerSync,
    counter_slot,
    counter_sums,
    new_counters,
)
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import User
from ticketflow.domain.checkin.scanner_tokens import new_scanner_token
from ticketflow.domain.checkin.service import not_a_gate
from ticketflow.domain.checkin.statements import GateCounters
from ticketflow.domain.events.service import escape_like
from ticketflow.domain.events.ticket_types import changeable_event, require_types_of_event
from ticketflow.lib.errors import (
    AuthenticationFailed,
    ConflictError,
    EventNotFound,
    NotFoundError,
    RuleViolation,
)
from ticketflow.lib.i18n import N_
from ticketflow.lib.repository import RepositoryService

SCANNER_DEFAULT_LIFETIME = dt.timedelta(hours=24)
SCANNER_LONGEST_LIFETIME = dt.timedelta(days=30)
PAIRING_LIFETIME = dt.timedelta(hours=24)
"""A pairing code works until the scanner expires, and at most this long."""
LOOKUP_LIMIT = 50
LOOKUP_MIN = 2
"""Characters the door desk's search needs (one letter would match half the hall)."""


def searchable(query: str) -> bool:
    """Whether the door desk searches for `query` (stripped): `LOOKUP_MIN` characters, or an
    order number of any length."""
    return len(query) >= LOOKUP_MIN or (query.isascii() and query.isdigit())


class GateNotFound(NotFoundError):
    detail = N_("gate not found")


class ScannerNotFound(NotFoundError):
    detail = N_("scanner not found")


class CheckInNotFound(NotFoundError):
    detail = N_("check-in not found")


class PairingRefused(AuthenticationFailed):
    detail = N_("this pairing code is unknown, used, expired or revoked")


class NotRevertible(ConflictError):
    detail = N_("only a ticket's latest admission, not yet undone, of a ticket still used can be undone")


def digest(secret: str) -> bytes:
    """The stored form of a pairing code or scanner token."""
    return hashlib.sha256(secret.encode()).digest()


async def require_event(session: AsyncSession, event_id: int) -> None:
    if await session.scalar(select(Event.id).where(Event.id == event_id)) is None:
        raise EventNotFound


GATE_EVENT_INDEX = next(
    str(index.name) for index in table_of(Gate).indexes if [c.name for c in index.columns] == ["event_id"]
)


class GateRepository(SQLAlchemyAsyncRepository[Gate]):
    model_type = Gate


class GateService(RepositoryService[Gate, GateRepository]):
    """An event's gates (admin). Each public method is one transaction."""

    repository_type = GateRepository

    async def _gate(self, gate_id: int) -> Gate:
        gate = await self.get_one_or_none(Gate.id == gate_id)
        if gate is None:
            raise GateNotFound
        return gate

    async def create_gate(
        self, event_id: int, *, name: str, ticket_type_ids: list[int], allow_reentry: bool
    ) -> Gate:
        await changeable_event(self.session, event_id)
        await require_types_of_event(self.session, event_id, ticket_type_ids)
        gate = await self.create(
            Gate(
                event_id=event_id,
                name=name,
                ticket_type_ids=sorted(set(ticket_type_ids)),
                allow_reentry=allow_reentry,
            )
        )
        self.session.add_all(new_counters(gate.id))
        await self.session.commit()
        return gate

    async def list_gates(self, event_id: int) -> Sequence[Gate]:
        await require_event(self.session, event_id)
        return await self.get_many(Gate.event_id == event_id, order_by=[Gate.id.asc()])

    async def update_gate(self, gate_id: int, changes: dict[str, Any]) -> Gate:
        gate = await self._gate(gate_id)
        await changeable_event(self.session, gate.event_id)
        if "ticket_type_ids" in changes:
            await require_types_of_event(self.session, gate.event_id, changes["ticket_type_ids"])
            changes["ticket_type_ids"] = sorted(set(changes["ticket_type_ids"]))
        for field, value in changes.items():
            setattr(gate, field, value)
        if changes:  # the door's processes read the rule again (`Gate.rule_version`)
            await self.session.execute(
                update(Gate).where(Gate.id == gate_id).values(rule_version=Gate.rule_version + 1)
            )
        await self.session.commit()
        return gate

    async def delete_gate(self, gate_id: int) -> None:
        """Removes the gate; its scanners are revoked (they would otherwise open every gate).

        On MySQL/MariaDB every transaction takes a scanner's row before a gate's (the door's
        scan-log row checks its foreign keys in that order; a sync locks its device's row, then
        its event's gates): the gate's scanners are revoked first (their rows locked), then the
        gate is locked as a sync locks its event's gates (`SELECT_DEVICE_GATES`: by the event's
        index, then the row) and deleted. A scan or a sync holding one of these rows finishes
        first; one after the delete finds the gate gone (its bound scanners revoked).

        A cycle can still make MariaDB roll the delete back as a deadlock's victim (1213: a sync
        batch and an online scan that holds one of the batch's tickets, see `sync.py`). Its
        transaction was rolled back whole and the session is rolled back with it, so it is run
        again from the start, as the door and the sync run theirs (`again_if_deadlocked`): the
        admin's DELETE is answered 204 once the others are through (a 409/503 would only make the
        admin send the same request again). A victim on every attempt answers 503
        (`DeadlockedEveryAttempt`), nothing of it kept."""
        await again_if_deadlocked(partial(self._delete_gate, gate_id))

    async def _delete_gate(self, gate_id: int) -> None:
        """One attempt of `delete_gate`: a transaction of its own, rolled back on any error."""
        try:
            await self._remove_gate(gate_id)
            await self.session.commit()
        except Exception:
            await self.session.rollback()
            raise

    async def _remove_gate(self, gate_id: int) -> None:
        """`delete_gate`'s statements, in their order, left to commit."""
        gate = await self._gate(gate_id)
        await changeable_event(self.session, gate.event_id)
        await self.session.execute(
            update(Scanner)
            .where(Scanner.gate_id == gate_id, Scanner.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )
        await self.session.execute(
            select(Gate.id)
            .with_hint(Gate, f"FORCE INDEX ({GATE_EVENT_INDEX})", "mysql")
            .where(Gate.event_id == gate.event_id, Gate.id == gate_id)
            .with_for_update()
        )
        await self.delete(gate.id)

    async def counters(self, gates: Sequence[Gate]) -> dict[int, GateCounters]:
        """The gates' counters now, by gate id (the sums of their counter rows)."""
        if not gates:
            return {}
        rows = await self.session.execute(
            select(GateCounter.gate_id, *counter_sums())
            .where(GateCounter.gate_id.in_([gate.id for gate in gates]))
            .group_by(GateCounter.gate_id)
        )
        found = {int(gate_id): (int(a), int(i), int(r)) for gate_id, a, i, r in rows}
        return {gate.id: GateCounters(gate.id, gate.name, *found.get(gate.id, (0, 0, 0))) for gate in gates}

    async def refusals(self, event_id: int) -> dict[int, dict[str, int]]:
        """Per gate of the event: its refused scans by reason (`already_used` for a second entry)."""
        reason = func.coalesce(CheckIn.reason, CheckIn.result)
        rows = await self.session.execute(
            select(CheckIn.gate_id, reason, func.count())
            .join(Gate, Gate.id == CheckIn.gate_id)
            .where(
                Gate.event_id == event_id,
                CheckIn.result.in_([ScanResult.INVALID.value, ScanResult.ALREADY_USED.value]),
            )
            .group_by(CheckIn.gate_id, reason)
        )
        found: dict[int, dict[str, int]] = {}
        for gate_id, why, count in rows:
            if gate_id is not None:
                found.setdefault(gate_id, {})[str(why)] = int(count)
        return found


class ScannerRepository(SQLAlchemyAsyncRepository[Scanner]):
    model_type = Scanner


class ScannerService(RepositoryService[Scanner, ScannerRepository]):
    """An event's scanner devices: creation, pairing, revocation (admin; pairing by the device).
    Each public method is one transaction."""

    repository_type = ScannerRepository

    async def create_scanner(
        self, event_id: int, *, name: str, gate_id: int | None, expires_at: dt.datetime | None
    ) -> tuple[Scanner, str]:
        """A new scanner and its pairing code (returned once, stored as a digest)."""
        await require_event(self.session, event_id)
        now = utc_now()
        expires_at = expires_at or now + SCANNER_DEFAULT_LIFETIME
        if not now < expires_at <= now + SCANNER_LONGEST_LIFETIME:
            raise RuleViolation(N_("expires_at must be in the future and at most 30 days away"))
        if gate_id is not None:
            gate = await self.session.scalar(
                select(Gate.id).where(Gate.id == gate_id, Gate.event_id == event_id)
            )
            if gate is None:
                raise not_a_gate()
        code = secrets.token_urlsafe(24)
        scanner = await self.create(
            Scanner(
                event_id=event_id,
                gate_id=gate_id,
                name=name,
                pairing_code_hash=digest(code),
                pairing_expires_at=min(expires_at, now + PAIRING_LIFETIME),
                expires_at=expires_at,
            )
        )
        self.session.add(ScannerSync(scanner_id=scanner.id))  # its batches' sync lock (`sync.py`)
        await self.session.commit()
        return scanner, code

    async def list_scanners(self, event_id: int) -> Sequence[Scanner]:
        await require_event(self.session, event_id)
        return await self.get_many(Scanner.event_id == event_id, order_by=[Scanner.id.asc()])

    async def scan_counts(self, scanner_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """Per scanner: its scans, and how many of them admitted."""
        if not scanner_ids:
            return {}
        rows = await self.session.execute(
            select(
                CheckIn.scanner_id,
                func.count(),
                func.sum(case((CheckIn.result == ScanResult.VALID.value, 1), else_=0)),
            )
            .where(CheckIn.scanner_id.in_(scanner_ids))
            .group_by(CheckIn.scanner_id)
        )
        return {int(row[0]): (int(row[1]), int(row[2] or 0)) for row in rows}

    async def pair(self, code: str) -> tuple[Scanner, str]:
        """Trade a pairing code for the device's token (once)."""
        now = utc_now()
        pairable = (
            Scanner.pairing_code_hash == digest(code),
            Scanner.pairing_expires_at > now,
            Scanner.expires_at > now,
            Scanner.revoked_at.is_(None),
        )
        scanner_id = await self.session.scalar(select(Scanner.id).where(*pairable))
        if scanner_id is None:
            raise PairingRefused
        token = new_scanner_token(scanner_id)
        paired = await self.session.execute(
            update(Scanner)
            .where(Scanner.id == scanner_id, *pairable)
            .values(pairing_code_hash=None, token_hash=digest(token), paired_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if paired.rowcount != 1:  # type: ignore[attr-defined]
            await self.session.rollback()
            raise PairingRefused
        await self.session.commit()
        scanner = await self.session.get(Scanner, scanner_id, populate_existing=True)
        if scanner is None:  # pragma: no cover - just written
            raise PairingRefused
        return scanner, token

    async def revoke(self, scanner_id: int) -> Scanner:
        scanner = await self.get_one_or_none(Scanner.id == scanner_id)
        if scanner is None:
            raise ScannerNotFound
        if scanner.revoked_at is None:
            scanner.revoked_at = utc_now()
            scanner.pairing_code_hash = None
            await self.session.commit()
        return scanner


class CheckInRepository(SQLAlchemyAsyncRepository[CheckIn]):
    model_type = CheckIn


class ScanLogService(RepositoryService[CheckIn, CheckInRepository]):
    repository_type = CheckInRepository

    async def list_check_ins(
        self,
        filters: dict[str, Any],
        *,
        limit_offset: LimitOffset,
        scanned_from: dt.datetime | None = None,
        scanned_until: dt.datetime | None = None,
    ) -> OffsetPagination[CheckIn]:
        """The scan log, newest first: `filters` are columns and the values they must equal;
        `scanned_from` (included) and `scanned_until` (excluded) bound the scan time."""
        conditions = [
            getattr(CheckIn, column) == value for column, value in filters.items() if value is not None
        ]
        if scanned_from is not None:
            conditions.append(CheckIn.scanned_at >= scanned_from)
        if scanned_until is not None:
            conditions.append(CheckIn.scanned_at < scanned_until)
        return await self.page(*conditions, limit_offset=limit_offset, order_by=[CheckIn.id.desc()])

    async def revert(self, check_in_id: int, *, admin_id: int) -> CheckIn:
        """Undo an admission: its ticket is active again, the undo is its own scan-log row."""
        admission = await self.session.get(CheckIn, check_in_id)
        if admission is None:
            raise CheckInNotFound
        if admission.result != ScanResult.VALID or admission.ticket_id is None:
            raise NotRevertible(N_("only an admission can be undone"))
        latest = await self.session.scalar(
            select(func.max(CheckIn.id)).where(
                CheckIn.ticket_id == admission.ticket_id, CheckIn.result == ScanResult.VALID.value
            )
        )
        undone = await self.session.scalar(select(CheckIn.id).where(CheckIn.reverts_id == admission.id))
        if latest != admission.id or undone is not None:
            raise NotRevertible
        now = utc_now()
        left_at = await self.session.scalar(  # the row is locked until the undo commits
            select(Ticket.left_at)
            .where(Ticket.id == admission.ticket_id, Ticket.status == TicketStatus.USED)
            .with_for_update()
        )
        reopened = await self.session.execute(
            update(Ticket)
            .where(Ticket.id == admission.ticket_id, Ticket.status == TicketStatus.USED)
            .values(status=TicketStatus.ACTIVE, used_at=None, left_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if reopened.rowcount != 1:  # type: ignore[attr-defined]
            await self.session.rollback()
            raise NotRevertible
        revert = CheckIn(
            ticket_id=admission.ticket_id,
            event_id=admission.event_id,
            door_event_id=admission.door_event_id,
            gate_id=admission.gate_id,
            scanned_code=admission.scanned_code[:SCANNED_CODE_MAX],
            result=ScanResult.REVERTED.value,
            reverts_id=admission.id,
            scanned_by_id=admin_id,
            scanned_at=now,
        )
        self.session.add(revert)
        await self.session.flush()
        if admission.gate_id is not None:  # it counted there; inside too unless it has left since
            # in the row it counted in: its device's, or (a staff scan) its log row's
            slot = counter_slot(admission.scanner_id if admission.scanner_id is not None else admission.id)
            await self.session.execute(
                update(GateCounter)
                .where(GateCounter.gate_id == admission.gate_id, GateCounter.slot == slot)
                .values(admitted=GateCounter.admitted - 1, inside=GateCounter.inside - int(left_at is None))
                .execution_options(synchronize_session=False)
            )
        await self.session.commit()
        return revert

    async def lookup(self, event_id: int, query: str) -> Sequence[tuple[Ticket, User]]:
        """The door desk's search: an event's tickets by holder or attendee name, e-mail or order id.
        At least `LOOKUP_MIN` characters (an order number may be shorter): one would match half
        the hall."""
        query = query.strip()
        if not searchable(query):
            raise RuleViolation(
                N_("q needs at least %(count)s characters (an order number may be shorter)"),
                values={"count": LOOKUP_MIN},
                field="q",
            )
        await require_event(self.session, event_id)
        pattern = f"%{escape_like(query)}%"
        matches: list[ColumnElement[bool]] = [
            User.name.ilike(pattern, escape="\\"),
            Ticket.attendee_name.ilike(pattern, escape="\\"),
            User.email.ilike(pattern, escape="\\"),
        ]
        if query.isascii() and query.isdigit() and len(query) < 16:
            matches.append(Ticket.order_id == int(query))
        rows = await self.session.execute(
            select(Ticket, User)
            .join(User, User.id == Ticket.user_id)
            .where(Ticket.event_id == event_id, or_(*matches))
            .order_by(Ticket.id)
            .limit(LOOKUP_LIMIT)
        )
        return [(ticket, user) for ticket, user in rows]
