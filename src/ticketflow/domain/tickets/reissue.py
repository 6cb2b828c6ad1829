"""Reissue: new codes for tickets whose code, or the key that signed it, leaked.

A reissued ticket keeps its holder, order, type and attendee; it gets the signed code of its next
version from the current first key (`replace_code`, the same conditional UPDATE as a transfer),
and its holder gets the ticket e-mail with the new code. The old code then admits no one: online
the door answers `invalid`/`unknown` (the code names a version the ticket no longer has), and the
scanner bundle lists that version as revoked. A `tf1.` code (issued before signed codes) says no
ticket and no version: the reissue keeps it as a `ReplacedCode`, so its scans are logged with the
ticket (the answer still names none).

- One ticket (`reissue_ticket`): a code posted online. Its holder (at most
  `REISSUES_PER_TICKET` times a day) or an admin; only an `active` ticket.
- Every ticket a key signed (`reissue_signed_by`): a leaked signing key. Rotate first (a new key
  first in TICKET_SIGNING_KEYS), then reissue what the leaked key signed, then remove it. Tickets
  are read in id order in batches, one transaction a batch; which key signed a code is read from
  the code itself, so a ticket re-signed by an earlier run no longer matches and a second run
  changes nothing. Unpaid tickets are re-signed too (their codes would die with the key), without
  an e-mail: the ticket e-mail sent at payment reads the code then. Holders of tickets of events
  that are over are not written to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.events import Event
from ticketflow.db.models.tickets import ReplacedCode, Ticket, TicketStatus
from ticketflow.db.models.users import Role, User
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.tickets.service import HeldTicket, TicketVersion, held_tickets, replace_code
from ticketflow.lib.errors import ConflictError, RuleViolation, TicketNotFound
from ticketflow.lib.i18n import N_
from ticketflow.lib.ratelimit import AttemptLimiter, LimitStore
from ticketflow.lib.signed_codes import SIGNED_CODE_PREFIX, TicketSigner, kid_of
from ticketflow.lib.ticket_codes import is_signed_code

REISSUES_PER_TICKET = 3
REISSUE_WINDOW_SECONDS = 86_400
"""A holder may ask for a new code of one ticket this many times a day (admins are not limited)."""
REISSUE_BATCH = 500
"""Tickets read (and changed) per transaction by `reissue_signed_by`."""
OVER_AFTER_START = dt.timedelta(days=1)
"""An event without an end is taken as over this long after it started (no e-mail any more)."""
REISSUABLE = (TicketStatus.PENDING, TicketStatus.ACTIVE)
NOT_REISSUED = {
    TicketStatus.PENDING: N_("only an active ticket can get a new code; this one is pending"),
    TicketStatus.USED: N_("only an active ticket can get a new code; this one is used"),
    TicketStatus.CANCELLED: N_("only an active ticket can get a new code; this one is cancelled"),
}
"""Why a ticket gets no new code, by its state (one whole sentence each, for the translations)."""


class TicketNotReissuable(ConflictError):
    detail = N_("only an active ticket can get a new code")


class SigningKeyInUse(RuleViolation):
    detail = N_("this key signs new codes")


class UnknownSigningKey(RuleViolation):
    detail = N_("no such signing key")


def reissue_limiter(store: LimitStore) -> AttemptLimiter:
    """New codes a holder asks for, per ticket: `REISSUES_PER_TICKET` a day, then 429."""
    return AttemptLimiter(store, REISSUES_PER_TICKET, REISSUE_WINDOW_SECONDS, "reissue-ticket")


@dataclass
class ReissueCount:
    """What `reissue_signed_by` did."""

    checked: int = 0
    """Unpaid and active tickets with a signed code, of any key."""
    active: int = 0
    """Active tickets of the key that got a new code."""
    unpaid: int = 0
    """Unpaid tickets of the key that got a new code."""
    mailed: int = 0
    """Of the active ones, those whose holders are written to (the event is not over)."""
    changed: int = 0
    """Tickets of the key that changed while they were reissued (used, cancelled, transferred,
    paid): not reissued; run again."""


def event_over(starts_at: dt.datetime, ends_at: dt.datetime | None, now: dt.datetime) -> bool:
    return (ends_at if ends_at is not None else starts_at + OVER_AFTER_START) <= now


class CodeReissue:
    """New codes for leaked ones. Each public method commits its own transactions."""

    def __init__(
        self,
        session: AsyncSession,
        notifier: Notifier,
        signer: TicketSigner,
        limiter: AttemptLimiter | None = None,
    ) -> None:
        self.session = session
        self.notifier = notifier
        self.signer = signer
        self.limiter = limiter
        """Holders' requests per ticket (None: not limited)."""

    async def reissue_ticket(self, ticket_id: int, actor: User) -> HeldTicket:
        """A new code for one active ticket, mailed to its holder. Holder or admin (404 for
        anyone else); `TicketNotReissuable` for a ticket not active or changed meanwhile."""
        ticket = await self.session.get(Ticket, ticket_id)
        admin = actor.role == Role.ADMIN
        if ticket is None or (not admin and ticket.user_id != actor.id):
            raise TicketNotFound
        if ticket.status != TicketStatus.ACTIVE:
            raise TicketNotReissuable(NOT_REISSUED[TicketStatus(ticket.status)], status=ticket.status)
        taken = None if admin or self.limiter is None else await self.limiter.acquire(str(ticket_id))
        try:
            now, old = utc_now(), TicketVersion.of(ticket)
            old_code = ticket.code
            active = Ticket.status == TicketStatus.ACTIVE
            code = await replace_code(self.session, self.signer, old, now, active)
            if code is None:
                await self.session.rollback()
                raise TicketNotReissuable(N_("the ticket changed meanwhile (used, cancelled or transferred)"))
            if not is_signed_code(old_code):  # the code it had at that version (a transfer bumps it)
                self.session.add(
                    ReplacedCode(
                        ticket_id=ticket_id, old_version=old.code_version, old_code=old_code, replaced_at=now
                    )
                )
            await self.notifier.codes_reissued(self.session, [ticket_id])
            await self.session.commit()
        except BaseException:
            if taken is not None and self.limiter is not None:
                await self.limiter.release(taken)
            raise
        await self.session.refresh(ticket)
        (held,) = await held_tickets(self.session, [ticket])
        return held

    def check_retired_key(self, kid: int) -> None:
        """Refuse a key that is not listed, or the one that signs new codes."""
        listed = self.signer.kids
        if kid not in listed:
            raise UnknownSigningKey(
                N_(
                    "key %(kid)s is not in TICKET_SIGNING_KEYS (listed: %(listed)s);"
                    " list it again after the first key to reissue the tickets it signed"
                ),
                values={"kid": kid, "listed": [str(listed_kid) for listed_kid in listed]},
                kid=kid,
            )
        if kid == self.signer.signing_kid:
            raise SigningKeyInUse(
                N_(
                    "key %(kid)s is the first in TICKET_SIGNING_KEYS: it would sign the new codes again."
                    " Rotate first: generate a key (`ticketflow keys generate --kid M`), put it first,"
                    " restart the servers, then reissue"
                ),
                values={"kid": kid},
                kid=kid,
            )

    async def reissue_signed_by(self, kid: int, batch: int = REISSUE_BATCH) -> ReissueCount:
        """A new code, from the current first key, for every unpaid or active ticket whose code
        key `kid` signed; holders of active tickets of events not over are e-mailed."""
        self.check_retired_key(kid)
        count = ReissueCount()
        after = 0
        while True:
            rows = (
                await self.session.execute(
                    select(
                        Ticket.id,
                        Ticket.event_id,
                        Ticket.ticket_type_id,
                        Ticket.code_version,
                        Ticket.code,
                        Ticket.status,
                        Event.starts_at,
                        Event.ends_at,
                    )
                    .join(Event, Event.id == Ticket.event_id)
                    .where(
                        Ticket.id > after,
                        Ticket.status.in_(REISSUABLE),
                        Ticket.code.startswith(SIGNED_CODE_PREFIX, autoescape=True),
                    )
                    .order_by(Ticket.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return count
            after = rows[-1].id
            count.checked += len(rows)
            now = utc_now()
            mail = []
            for ticket_id, event_id, type_id, version, code, status, starts_at, ends_at in rows:
                if kid_of(code) != kid:
                    continue
                replaced = await replace_code(
                    self.session,
                    self.signer,
                    TicketVersion(ticket_id, event_id, type_id, version),
                    now,
                    Ticket.status == status,
                )
                if replaced is None:
                    count.changed += 1
                elif status == TicketStatus.PENDING:
                    count.unpaid += 1
                else:
                    count.active += 1
                    if not event_over(starts_at, ends_at, now):
                        mail.append(ticket_id)
            if mail:
                await self.notifier.codes_reissued(self.session, mail)
                count.mailed += len(mail)
            await self.session.commit()
