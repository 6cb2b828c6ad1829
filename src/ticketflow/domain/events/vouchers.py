"""Vouchers of an event: created by admins one by one or in bulk, redeemed by orders.

Random codes come from the operating system's CSPRNG (`secrets`) over an alphabet without
look-alikes (no 0/O, 1/I/L), 10 characters: 32^10 = 2^50 codes, and guessing is rate-limited.
Codes compare byte for byte. Redeeming (taking a use) happens in the purchase transaction with
one conditional UPDATE (see `take_use`); a use is given back when its order closes without
being honoured (cancelled, expired, refunded).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ticketflow.db.base import utc_now
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.vouchers import Voucher, VoucherKind, voucher_ticket_types
from ticketflow.domain.events.dates import check_supported_dates
from ticketflow.domain.events.ticket_types import (
    changeable_event,
    lock_changeable_event,
    require_types_of_event,
)
from ticketflow.lib.errors import ConflictError, EventNotFound, NotFoundError, RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.repository import RepositoryService

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Letters and digits a person reads back without doubt (no 0/O, 1/I/L)."""
RANDOM_CODE_LENGTH = 10
MAX_BULK = 1000
VOUCHER_FIELDS = ("kind", "value", "max_uses", "valid_from", "valid_until", "unlocks_hidden")


class VoucherNotFound(NotFoundError):
    detail = N_("voucher not found")


class VoucherCodeTaken(ConflictError):
    detail = N_("this event already has a voucher with this code")


class VoucherUsed(ConflictError):
    detail = N_("this voucher was redeemed: limit it (max_uses, valid_until) instead of deleting it")


@dataclass(slots=True)
class VoucherView:
    """A voucher with the types it applies to (empty: every type of its event)."""

    voucher: Voucher
    ticket_type_ids: list[int] = field(default_factory=list)


def random_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(RANDOM_CODE_LENGTH))


def check_voucher_rules(values: dict[str, Any]) -> None:
    check_supported_dates(values, ("valid_from", "valid_until"))
    if values["kind"] == VoucherKind.PERCENT and values["value"] > 100:
        raise RuleViolation(N_("a percentage cannot exceed 100"), field="value")
    start, end = values.get("valid_from"), values.get("valid_until")
    if start is not None and end is not None and end <= start:
        raise RuleViolation(N_("valid_until must be after valid_from"), field="valid_until")


class VoucherRepository(SQLAlchemyAsyncRepository[Voucher]):
    model_type = Voucher


class VoucherService(RepositoryService[Voucher, VoucherRepository]):
    """Use cases of vouchers (admin). Each public method is one transaction.

    A change takes the event's lock (`lock_event`) before it writes, as a purchase does: purchases
    lock the event, then its types and vouchers, so a change that locked a type or a voucher first
    and then wrote the event (its lowest price, say) would deadlock with a buyer in between."""

    repository_type = VoucherRepository

    async def _event(self, event_id: int) -> Event:
        event = await self.session.get(Event, event_id)
        if event is None:
            raise EventNotFound
        return event

    async def _types_of(self, voucher_ids: list[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {voucher_id: [] for voucher_id in voucher_ids}
        if voucher_ids:
            rows = await self.session.execute(
                select(voucher_ticket_types.c.voucher_id, voucher_ticket_types.c.ticket_type_id)
                .where(voucher_ticket_types.c.voucher_id.in_(voucher_ids))
                .order_by(voucher_ticket_types.c.ticket_type_id)
            )
            for voucher_id, type_id in rows:
                found[voucher_id].append(type_id)
        return found

    async def _link(self, voucher_ids: list[int], type_ids: list[int]) -> None:
        await self.session.execute(
            delete(voucher_ticket_types).where(voucher_ticket_types.c.voucher_id.in_(voucher_ids))
        )
        rows = [{"voucher_id": v, "ticket_type_id": t} for v in voucher_ids for t in sorted(set(type_ids))]
        if rows:
            await self.session.execute(insert(voucher_ticket_types), rows)

    async def create_vouchers(
        self, event_id: int, values: dict[str, Any], codes: list[str], type_ids: list[int]
    ) -> list[VoucherView]:
        """One voucher per code, all alike; a code the event already has is a 409."""
        await changeable_event(self.session, event_id)
        check_voucher_rules(values)
        await require_types_of_event(self.session, event_id, type_ids)
        await lock_changeable_event(self.session, event_id)
        now = utc_now()
        vouchers = [
            Voucher(event_id=event_id, code=code, uses=0, created_at=now, updated_at=now, **values)
            for code in codes
        ]
        try:
            await self.create_many(vouchers)
        except IntegrityError:
            await self.session.rollback()
            raise VoucherCodeTaken from None
        await self._link([v.id for v in vouchers], type_ids)
        await self.session.commit()
        return [VoucherView(v, sorted(set(type_ids))) for v in vouchers]

    async def of_event(self, event_id: int) -> list[VoucherView]:
        await self._event(event_id)
        vouchers = list(await self.get_many(Voucher.event_id == event_id, order_by=[Voucher.id.asc()]))
        types = await self._types_of([v.id for v in vouchers])
        return [VoucherView(v, types[v.id]) for v in vouchers]

    async def get_voucher(self, voucher_id: int) -> VoucherView:
        voucher = await self.get_one_or_none(Voucher.id == voucher_id)
        if voucher is None:
            raise VoucherNotFound
        return VoucherView(voucher, (await self._types_of([voucher_id]))[voucher_id])

    async def update_voucher(
        self, voucher_id: int, changes: dict[str, Any], type_ids: list[int] | None
    ) -> VoucherView:
        view = await self.get_voucher(voucher_id)
        voucher = view.voucher
        await changeable_event(self.session, voucher.event_id)
        merged = {name: getattr(voucher, name) for name in VOUCHER_FIELDS} | changes
        check_voucher_rules(merged)
        await lock_changeable_event(self.session, voucher.event_id)
        if "max_uses" in changes and changes["max_uses"] is not None:
            limited = await self.session.execute(
                update(Voucher)
                .where(Voucher.id == voucher_id, Voucher.uses <= changes["max_uses"])
                .values(max_uses=changes["max_uses"])
                .execution_options(synchronize_session=False)
            )
            if limited.rowcount != 1:  # type: ignore[attr-defined]
                await self.session.rollback()
                raise ConflictError(N_("max_uses cannot go below the uses already made"), uses=voucher.uses)
        for name, value in changes.items():
            if name != "max_uses" or value is None:
                setattr(voucher, name, value)
        voucher.updated_at = utc_now()
        if type_ids is not None:
            await require_types_of_event(self.session, voucher.event_id, type_ids)
            await self._link([voucher_id], type_ids)
        await self.session.commit()
        await self.session.refresh(voucher)
        return await self.get_voucher(voucher_id)

    async def delete_voucher(self, voucher_id: int) -> None:
        """Remove a voucher no order redeemed; a redeemed one is kept (409), limit it instead."""
        voucher = (await self.get_voucher(voucher_id)).voucher
        await changeable_event(self.session, voucher.event_id)
        # After the event's lock no purchase can redeem it; a locking read sees one that committed
        # while this waited (the snapshot from before the wait would not).
        await lock_changeable_event(self.session, voucher.event_id)
        redeemed = select(Order.id).where(Order.voucher_id == voucher_id).limit(1).with_for_update()
        if await self.session.scalar(redeemed):
            raise VoucherUsed
        await self.delete(voucher_id)
        await self.session.commit()


def voucher_valid_at(voucher: Voucher, now: dt.datetime) -> bool:
    return (voucher.valid_from is None or voucher.valid_from <= now) and (
        voucher.valid_until is None or now < voucher.valid_until
    )
