"""Buying tickets: the race-free inventory step and the purchase transaction.

Inventory rule: seats are taken only by one conditional UPDATE of the event row
(`... WHERE capacity - tickets_sold - tickets_held >= :n`). The database evaluates the condition
and the increment as one step under the row lock, so concurrent buyers - in one process or many,
on MySQL/MariaDB or SQLite - can never take more seats than exist; there is no read-then-write
window (REPEATABLE READ would let a read-then-write oversell). A CHECK constraint
(`tickets_sold + tickets_held <= capacity`) backs the rule in the schema.

Lock order: the event row first (the UPDATE), then the new order and tickets. Inserting the order
first would take shared foreign-key locks on the event row that two buyers then both try to
upgrade: a deadlock. The payments context (expiry, payment, cancellation) takes locks in the same
order. A plain read of the event before the UPDATE answers "sold out" without writing anything,
which keeps a sold-out flash sale cheap.

This is the second hot path of the product: the buyer's role and the cheap refusals are read on a
driver connection (`ticketflow.db.driver_pool`), and a free purchase (a flash sale) continues in
that transaction with a few more fixed statements (`statements.py`). Priced, retried
(`Idempotency-Key`) and hold-blocked purchases run the full path on SQLAlchemy Core and the ORM
hooks of payments and e-mail. Both paths take seats, types, lines and voucher uses with the same
statements (`take_seats`) and answer with the same records (`OrderRecord`, `TicketRecord`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Row, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from ticketflow.db.base import table_of, utc_now
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.events import EventStatus
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role
from ticketflow.domain.notifications.notifier import Notifier, Recipient
from ticketflow.domain.payments.hooks import Payments, PaymentsUnavailable
from ticketflow.domain.tickets.statements import (
    LineRecord,
    OfferedType,
    OrderRecord,
    PurchaseStatements,
    SaleState,
    SaleType,
    SaleVoucher,
    TicketRecord,
    purchase_transaction,
)
from ticketflow.lib.errors import ConflictError, EventNotFound, RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.roles import check_role
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.lib.ticket_codes import PLACEHOLDER_LIKE, SignedTicket, sign_new, unsigned_placeholder

BUYER_ROLES = frozenset({Role.ATTENDEE, Role.ADMIN})

orders = table_of(Order)
tickets = table_of(Ticket)


class SoldOut(ConflictError):
    detail = N_("not enough tickets left")


class SalesClosed(ConflictError):
    detail = N_("ticket sales are closed for this event")


class TooManySeatsHeld(ConflictError):
    detail = N_("too many unpaid seats held for this event")


class IdempotencyKeyReused(RuleViolation):
    detail = N_("this Idempotency-Key was used for a different purchase")


class _SeatsTaken(Exception):
    """Internal: the conditional UPDATE matched no row; the transaction must roll back."""


async def take_seats(
    db: PurchaseStatements, event_id: int, lots: Sequence[Lot], *, held: bool, now: dt.datetime
) -> None:
    """The race-free inventory step of every purchase: one conditional UPDATE of the event row for
    the whole order, then one of each type's row in id order (event first, then types by id: the
    lock order of every seat change).

    Raises `_SeatsTaken` when any matched no row (sold out since the checks, cancelled, started);
    the caller's transaction then rolls back whatever the earlier ones took.
    """
    quantity = sum(lot.quantity for lot in lots)
    if not await db.take_event_seats(event_id, quantity, held=held, now=now):
        raise _SeatsTaken
    for lot in sorted(lots, key=lambda lot: lot.sale.id):
        if not await db.take_type_seats(lot.sale.id, lot.quantity, held=held, now=now):
            raise _SeatsTaken


@dataclass(frozen=True, slots=True)
class Lot:
    """So many tickets of one type in an order."""

    sale: SaleType
    quantity: int


class TypeNotOnSale(RuleViolation):
    detail = N_("a ticket type asked for is not on sale for this event")


class TypesSoldOut(ConflictError):
    detail = N_("not enough tickets left of the types asked for")


def merged(items: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(type id, quantity) pairs with each type once, by id."""
    wanted: dict[int, int] = {}
    for type_id, quantity in items:
        wanted[type_id] = wanted.get(type_id, 0) + quantity
    return sorted(wanted.items())


async def lots_asked(db: PurchaseStatements, event_id: int, items: Sequence[tuple[int, int]]) -> list[Lot]:
    """The lots of an order that passed its checks and then found the seats gone (hidden types
    included: its voucher unlocked them), to say how many are left of each."""
    offered = await db.offered_types(event_id)
    return [Lot(offered[type_id].sale, quantity) for type_id, quantity in merged(items) if type_id in offered]


async def lots_for_items(
    db: PurchaseStatements,
    event_id: int,
    items: Sequence[tuple[int, int]],
    max_per_order: int,
    now: dt.datetime,
    voucher: SaleVoucher | None = None,
) -> list[Lot]:
    """The types an order of `items` (type id, quantity) buys, checked: each visible, active, in
    its sale window and within its `max_per_order`; the same type twice counts once."""
    for type_id, quantity in items:  # each line asks for one at least, before lines of a type add up
        check_quantity(quantity, max_per_order, type_id)
    offered = await db.offered_types(event_id)
    lots = []
    for type_id, quantity in merged(items):
        found = offered.get(type_id)
        if found is None or not found.active:
            raise TypeNotOnSale(ticket_type_id=type_id)
        unlocked = voucher is not None and voucher.unlocks_hidden and voucher.applies_to(type_id)
        if found.hidden and not unlocked:
            if voucher is not None:
                raise VoucherRefused(
                    "voucher_not_applicable", N_("this voucher does not unlock this ticket type")
                )
            raise TypeNotOnSale(ticket_type_id=type_id)
        lots.append(lot_on_sale(found, quantity, max_per_order, now))
    return lots


def lot_on_sale(found: OfferedType, quantity: int, max_per_order: int, now: dt.datetime) -> Lot:
    """`quantity` of the type `found`, if it is in its sale window and the quantity within its
    `max_per_order` (and the event's, `max_per_order`)."""
    type_id = found.sale.id
    start, end = found.sales_start_at, found.sales_end_at
    if (start is not None and now < start) or (end is not None and now >= end):
        raise SalesClosed(N_("ticket sales of this type are closed"), ticket_type_id=type_id)
    check_quantity(quantity, min(found.max_per_order or max_per_order, max_per_order), type_id)
    return Lot(found.sale, quantity)


def as_seen_by(ticket: TicketRecord, buyer_id: int) -> TicketRecord:
    """A ticket of the buyer's order as a replay shows it to the buyer: one transferred to someone
    else since has its `code` empty, as in the transfer's own answer (the giver keeps no working
    code)."""
    return ticket if ticket.user_id == buyer_id else dataclasses.replace(ticket, code="")


def types_sold_out(lots: Sequence[Lot], event_available: int) -> TypesSoldOut:
    return TypesSoldOut(
        available={str(lot.sale.id): max(lot.sale.available(event_available), 0) for lot in lots}
    )


class SeveralTypes(RuleViolation):
    detail = N_("this event sells several ticket types: choose them with `items`")


def single_type(types: Sequence[OfferedType]) -> OfferedType:
    """The only visible type on sale; `{quantity}` alone cannot choose among several."""
    if len(types) != 1:
        raise SeveralTypes if types else SalesClosed(N_("no ticket type of this event is on sale"))
    return types[0]


async def sale_type(db: PurchaseStatements, event_id: int) -> OfferedType:
    return single_type(await db.sale_types(event_id))


async def insert_line(
    db: PurchaseStatements, order_id: int, sale: SaleType, quantity: int, discount: int = 0
) -> LineRecord:
    line = line_of(sale, quantity, discount)
    await db.insert_line(order_id, line)
    return line


class SaleWindow(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def starts_at(self) -> dt.datetime: ...
    @property
    def sales_start_at(self) -> dt.datetime | None: ...
    @property
    def sales_end_at(self) -> dt.datetime | None: ...
    @property
    def max_per_order(self) -> int: ...


@dataclass(slots=True)
class PurchaseResult:
    order: OrderRecord
    tickets: list[TicketRecord]
    replayed: bool = False
    holder_name: str = ""
    """The buyer's name: every ticket of a new order shows it until an attendee is named."""
    lines: list[LineRecord] = dataclasses.field(default_factory=list)


def order_record(row: Row[Any]) -> OrderRecord:
    """An order row of the full path, as the purchase answers with it."""
    return OrderRecord(
        row.id,
        row.user_id,
        row.event_id,
        row.quantity,
        row.amount_cents,
        row.currency,
        row.status,
        row.expires_at,
        row.created_at,
        row.voucher_code,
    )


def ticket_record(row: Row[Any]) -> TicketRecord:
    return TicketRecord(
        row.id,
        row.order_id,
        row.user_id,
        row.event_id,
        row.code,
        row.status,
        row.used_at,
        row.created_at,
        row.ticket_type_id,
        row.attendee_name,
    )


def line_of(sale: SaleType, quantity: int, discount: int = 0) -> LineRecord:
    amount = sale.price_cents * quantity - discount
    return LineRecord(sale.id, sale.name, quantity, sale.price_cents, discount, sale.tax_rate_bp, amount)


class VoucherRefused(RuleViolation):
    """422 with `extra.reason`: unknown_voucher, voucher_expired, voucher_used_up, voucher_not_applicable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)


async def find_voucher(db: PurchaseStatements, event_id: int, code: str, now: dt.datetime) -> SaleVoucher:
    voucher = await db.voucher(event_id, code)
    if voucher is None or voucher.code != code:
        raise VoucherRefused("unknown_voucher", N_("no such voucher for this event"))
    start, end = voucher.valid_from, voucher.valid_until
    if (start is not None and now < start) or (end is not None and now >= end):
        raise VoucherRefused("voucher_expired", N_("this voucher is not valid now"))
    if voucher.max_uses is not None and voucher.uses >= voucher.max_uses:
        raise VoucherRefused("voucher_used_up", N_("this voucher has been used up"))
    return voucher


async def take_voucher_use(db: PurchaseStatements, voucher: SaleVoucher, now: dt.datetime) -> None:
    if not await db.take_voucher_use(voucher.id, now):
        raise VoucherRefused("voucher_used_up", N_("this voucher has been used up"))


def purchase_fingerprint(
    event_id: int,
    quantity: int,
    items: Sequence[tuple[int, int]] | None = None,
    voucher_code: str | None = None,
) -> str:
    """What a retried purchase must repeat; a `{quantity}` purchase keeps its historic form."""
    asked = f"{event_id}:{quantity}" if items is None else f"{event_id}:{sorted(items)}"
    if voucher_code is not None:
        asked += f":{voucher_code}"
    return hashlib.sha256(asked.encode()).hexdigest()


def check_sales_open(event: SaleWindow, quantity: int, now: dt.datetime) -> None:
    if event.status == EventStatus.CANCELLED:
        raise SalesClosed(N_("the event is cancelled"))
    if event.starts_at <= now:
        raise SalesClosed(N_("the event has already started"))
    if event.sales_start_at is not None and now < event.sales_start_at:
        raise SalesClosed(
            N_("ticket sales have not started yet"), sales_start_at=event.sales_start_at.isoformat()
        )
    if event.sales_end_at is not None and now >= event.sales_end_at:
        raise SalesClosed(N_("ticket sales have ended"))
    check_quantity(quantity, event.max_per_order)


def check_quantity(quantity: int, limit: int, ticket_type_id: int | None = None) -> None:
    """A quantity of 1..`limit`, the order's or (`ticket_type_id`) a type's within it: else 422."""
    if 1 <= quantity <= limit:
        return
    over_type_limit = ticket_type_id is not None and quantity > limit
    text = (
        N_("at most %(count)s tickets of this type per order")
        if over_type_limit
        else N_("quantity must be between 1 and %(count)s")
    )
    where = {} if ticket_type_id is None else {"ticket_type_id": ticket_type_id}
    raise RuleViolation(text, values={"count": limit}, max_per_order=limit, **where)


def sold_out(available: int, type_id: int | None) -> SoldOut:
    """A `{quantity}` purchase the single visible type (`type_id`) cannot supply: `extra` says how
    many are left, as `available` (by type, as for `{items}`) and `tickets_available` (first part)."""
    left = max(available, 0)
    message = "sold out" if left == 0 else f"only {left} tickets left"
    by_type = {} if type_id is None else {str(type_id): left}
    return SoldOut(message, available=by_type, tickets_available=left)


def state_sold_out(state: SaleState) -> SoldOut:
    return sold_out(state.available, None if state.sale_type is None else state.sale_type.sale.id)


async def sale_state(db: PurchaseStatements, event_id: int, *, single: bool = True) -> SaleState:
    """The event's sale state; with `single`, the one visible type `{quantity}` buys."""
    state = await db.sale_state(event_id)
    if state is None:
        raise EventNotFound
    return dataclasses.replace(state, sale_type=await sale_type(db, event_id)) if single else state


async def check_first(
    db: PurchaseStatements, buyer_id: int, event_id: int, quantity: int, *, replay_possible: bool
) -> tuple[Recipient, SaleState | None]:
    """Cheap answers before any write: the buyer's role now, unknown event, closed or sold out.

    Plain reads on a driver connection; returns the buyer and what was read of the sale (None for
    a purchase that may be a retry). When they pass, the purchase transaction decides for real.
    """
    found = await db.buyer(buyer_id)
    check_role(None if found is None else found.role, BUYER_ROLES)
    assert found is not None  # noqa: S101 - check_role refused an unknown buyer
    buyer = (buyer_id, found.email, found.name)
    if replay_possible:
        return buyer, None  # a retried purchase must get its first answer even if sales closed since
    state = await sale_state(db, event_id)
    now = utc_now()
    check_sales_open(state, quantity, now)
    if state.sale_type is not None:
        lot_on_sale(state.sale_type, quantity, state.max_per_order, now)
    if state.available < quantity and state.tickets_held == 0:
        raise state_sold_out(state)
    return buyer, state


async def sign_order(db: PurchaseStatements, signer: TicketSigner, order_id: int) -> list[SignedTicket]:
    """Replace the placeholder codes of the order's new tickets with their signed codes (two
    statements whatever the number of tickets), in id order."""
    signed = sign_new(signer, await db.unsigned_tickets(order_id, PLACEHOLDER_LIKE))
    await db.set_codes([(ticket.id, ticket.code) for ticket in signed])
    return signed


async def buy_free_tickets(
    db: PurchaseStatements,
    notifier: Notifier,
    signer: TicketSigner,
    buyer: Recipient,
    event_id: int,
    currency: str,
    plan: OrderPlan,
    fingerprint: str,
) -> PurchaseResult:
    """A free purchase in the transaction of the checks: the seats (and the voucher's use), the
    paid order, its lines, its active tickets and their e-mail, in a few fixed statements on the
    driver (the flash-sale path, with one ticket type or several)."""
    now = utc_now()
    lots, voucher = plan.lots, plan.voucher
    await take_seats(db, event_id, lots, held=False, now=now)
    if voucher is not None:
        await take_voucher_use(db, voucher, now)
    buyer_id = buyer[0]
    quantity = sum(lot.quantity for lot in lots)
    redeemed = None if voucher is None else (voucher.id, voucher.code)
    order_id = await db.insert_paid_order(buyer_id, event_id, quantity, currency, fingerprint, now, redeemed)
    lines = []
    for lot, discount in zip(lots, plan.discounts, strict=True):
        lines.append(await insert_line(db, order_id, lot.sale, lot.quantity, discount))
        codes = [unsigned_placeholder() for _ in range(lot.quantity)]
        await db.insert_active_tickets(order_id, buyer_id, event_id, lot.sale.id, codes, now)
    issued = await sign_order(db, signer, order_id)
    await notifier.tickets_issued_to(db.outbox(), buyer, event_id=event_id, order_id=order_id)
    voucher_code = None if voucher is None else voucher.code
    order = OrderRecord(
        order_id, buyer_id, event_id, quantity, 0, currency, OrderStatus.PAID, None, now, voucher_code
    )
    tickets = [
        TicketRecord(
            t.id, order_id, buyer_id, event_id, t.code, TicketStatus.ACTIVE, None, now, t.ticket_type_id
        )
        for t in issued
    ]
    return PurchaseResult(order=order, tickets=tickets, lines=lines)


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """What an order buys and costs, as read before any write."""

    lots: list[Lot]
    discounts: list[int]
    """Per lot: the voucher's discount on the whole lot."""
    voucher: SaleVoucher | None
    total: int
    short: bool
    """The event or a type has fewer seats left than asked for (maybe only because of expired holds)."""
    event_left: int

    def sold_out(self, items: Sequence[tuple[int, int]] | None) -> ConflictError:
        if items is None:
            lot = self.lots[0].sale
            return sold_out(lot.available(self.event_left), lot.id)
        return types_sold_out(self.lots, self.event_left)


async def plan_order(
    db: PurchaseStatements,
    event_id: int,
    state: SaleWindow,
    left: int,
    items: Sequence[tuple[int, int]] | None,
    quantity: int,
    voucher_code: str | None,
    now: dt.datetime,
) -> OrderPlan:
    """The order's lots (checked), its voucher (checked) and discounts, its total, and whether the
    seats `left` in the event (and each type's) fall short of it."""
    voucher = None if voucher_code is None else await find_voucher(db, event_id, voucher_code, now)
    if items is None:
        lots = [lot_on_sale(await sale_type(db, event_id), quantity, state.max_per_order, now)]
    else:
        lots = await lots_for_items(db, event_id, items, state.max_per_order, now, voucher)
    discounts = [0] * len(lots)
    if voucher is not None:
        if not any(voucher.applies_to(lot.sale.id) for lot in lots):
            raise VoucherRefused("voucher_not_applicable", N_("this voucher is not valid for these tickets"))
        discounts = [
            voucher.discount(lot.sale.price_cents) * lot.quantity if voucher.applies_to(lot.sale.id) else 0
            for lot in lots
        ]
    total = sum(lot.sale.price_cents * lot.quantity for lot in lots) - sum(discounts)
    asked = sum(lot.quantity for lot in lots)
    short = left < asked or any(lot.sale.available(left) < lot.quantity for lot in lots)
    return OrderPlan(lots, discounts, voucher, total, short, left)


async def plan_first(
    db: PurchaseStatements,
    event_id: int,
    items: Sequence[tuple[int, int]] | None,
    quantity: int,
    voucher_code: str | None,
) -> tuple[SaleState, OrderPlan]:
    """`check_first` for an order of several types or with a voucher (not a retry): the same
    cheap refusals - closed, unknown or used-up voucher, sold out - before any write."""
    now = utc_now()
    state = await sale_state(db, event_id, single=False)
    if items is not None:
        quantity = sum(q for _, q in items)
    check_sales_open(state, quantity, now)
    left = state.capacity - state.tickets_sold - state.tickets_held
    plan = await plan_order(db, event_id, state, left, items, quantity, voucher_code, now)
    if plan.short and state.tickets_held == 0:
        raise plan.sold_out(items)
    return state, plan


class PurchaseService:
    """Buying tickets: the checks, and a free purchase, on one driver connection; the full path
    (priced, retried or hold-blocked purchases) on one SQLAlchemy connection after them."""

    def __init__(
        self,
        engine: AsyncEngine,
        drivers: DriverPool,
        notifier: Notifier,
        payments: Payments,
        signer: TicketSigner,
        reservation_ttl_seconds: int,
        max_held_seats_per_user: int = 0,
    ) -> None:
        self.engine = engine
        self.drivers = drivers
        self.notifier = notifier
        self.payments = payments
        self.signer = signer
        self.reservation_ttl_seconds = reservation_ttl_seconds
        self.max_held_seats_per_user = max_held_seats_per_user

    async def purchase(
        self,
        *,
        buyer_id: int,
        event_id: int,
        quantity: int,
        idempotency_key: str | None,
        items: Sequence[tuple[int, int]] | None = None,
        voucher_code: str | None = None,
    ) -> PurchaseResult:
        """Free tickets of the single type without an Idempotency-Key (a flash sale) are bought on
        the driver connection of the checks; priced, retryable, hold-blocked or several-type
        (`items`) purchases take the full path."""
        try:
            async with purchase_transaction(self.drivers) as db:
                buyer, state = await check_first(
                    db,
                    buyer_id,
                    event_id,
                    quantity,
                    replay_possible=idempotency_key is not None
                    or items is not None
                    or voucher_code is not None,
                )
                result = None
                if state is not None and state.sale_type is not None:
                    sale = state.sale_type.sale
                    if sale.price_cents == 0 and state.available >= quantity:
                        plan = OrderPlan([Lot(sale, quantity)], [0], None, 0, False, state.available)
                        fingerprint = purchase_fingerprint(event_id, quantity)
                        result = await buy_free_tickets(
                            db, self.notifier, self.signer, buyer, event_id, state.currency, plan, fingerprint
                        )
                elif idempotency_key is None:  # several types or a voucher: the same checks first
                    state, plan = await plan_first(db, event_id, items, quantity, voucher_code)
                    if plan.total == 0 and not plan.short:
                        fingerprint = purchase_fingerprint(event_id, quantity, items, voucher_code)
                        result = await buy_free_tickets(
                            db, self.notifier, self.signer, buyer, event_id, state.currency, plan, fingerprint
                        )
                if result is not None:
                    result.holder_name = buyer[2]
                    return result
            async with self.engine.connect() as connection:
                unit = _Purchase(
                    connection,
                    self.notifier,
                    self.payments,
                    self.signer,
                    self.reservation_ttl_seconds,
                    self.max_held_seats_per_user,
                )
                result = await unit.purchase(
                    buyer_id=buyer_id,
                    event_id=event_id,
                    quantity=quantity,
                    idempotency_key=idempotency_key,
                    items=items,
                    voucher_code=voucher_code,
                )
                result.holder_name = buyer[2]
                return result
        except _SeatsTaken:  # rolled back; say how many are left now
            async with purchase_transaction(self.drivers) as db:
                if items is not None:
                    state = await sale_state(db, event_id, single=False)
                    lots = await lots_asked(db, event_id, items)
                    raise types_sold_out(
                        lots, state.capacity - state.tickets_sold - state.tickets_held
                    ) from None
                state = await sale_state(db, event_id)
            raise state_sold_out(state) from None


class _Purchase:
    """The full path of one purchase on one connection, in one transaction (after `check_first`):
    idempotent replays, released holds, priced orders with held seats."""

    def __init__(
        self,
        connection: AsyncConnection,
        notifier: Notifier,
        payments: Payments,
        signer: TicketSigner,
        reservation_ttl_seconds: int,
        max_held_seats_per_user: int,
    ) -> None:
        self.connection = connection
        self.notifier = notifier
        self.payments = payments
        self.signer = signer
        self.reservation_ttl = dt.timedelta(seconds=reservation_ttl_seconds)
        self.max_held_seats_per_user = max_held_seats_per_user

    async def purchase(
        self,
        *,
        buyer_id: int,
        event_id: int,
        quantity: int,
        idempotency_key: str | None,
        items: Sequence[tuple[int, int]] | None = None,
        voucher_code: str | None = None,
    ) -> PurchaseResult:
        fingerprint = purchase_fingerprint(event_id, quantity, items, voucher_code)
        try:
            async with self.connection.begin():
                if idempotency_key is not None:
                    previous = await self._replay(buyer_id, idempotency_key, fingerprint)
                    if previous is not None:
                        return previous
                return await self._buy(
                    buyer_id, event_id, quantity, items, voucher_code, idempotency_key, fingerprint
                )
        except IntegrityError:
            if idempotency_key is None:
                raise
            # A concurrent request with the same key committed first: answer with its result.
            async with self.connection.begin():
                previous = await self._replay(buyer_id, idempotency_key, fingerprint)
            if previous is None:
                raise
            return previous

    async def _replay(self, buyer_id: int, key: str, fingerprint: str) -> PurchaseResult | None:
        order = (
            await self.connection.execute(
                select(orders).where(orders.c.user_id == buyer_id, orders.c.idempotency_key == key)
            )
        ).first()
        if order is None:
            return None
        if order.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused
        lines = await (await PurchaseStatements.on(self.connection)).order_lines(order.id)
        held = [as_seen_by(ticket, buyer_id) for ticket in await self._tickets_of(order.id)]
        return PurchaseResult(order=order_record(order), tickets=held, replayed=True, lines=lines)

    async def _tickets_of(self, order_id: int) -> list[TicketRecord]:
        rows = await self.connection.execute(
            select(tickets).where(tickets.c.order_id == order_id).order_by(tickets.c.id)
        )
        return [ticket_record(row) for row in rows]

    async def _buy(
        self,
        buyer_id: int,
        event_id: int,
        quantity: int,
        items: Sequence[tuple[int, int]] | None,
        voucher_code: str | None,
        idempotency_key: str | None,
        fingerprint: str,
    ) -> PurchaseResult:
        now = utc_now()
        db = await PurchaseStatements.on(self.connection)
        event = await db.sale_state(event_id)
        if event is None:
            raise EventNotFound
        if items is not None:
            quantity = sum(q for _, q in items)
        check_sales_open(event, quantity, now)
        left = event.capacity - event.tickets_sold - event.tickets_held
        plan = await plan_order(db, event_id, event, left, items, quantity, voucher_code, now)
        lots, discounts, voucher, total = plan.lots, plan.discounts, plan.voucher, plan.total
        priced = total > 0
        if priced and not self.payments.accepts_priced_orders():
            raise PaymentsUnavailable
        # Unpaid holds past their time may be what blocks the sale: release them first.
        if plan.short and (not event.tickets_held or not await self._expire_holds(event_id)):
            raise plan.sold_out(items)
        # Take seats (and, for an unpaid order, stay within the buyer's share of held seats).
        await take_seats(db, event_id, lots, held=priced, now=now)
        if priced:
            await self._check_held_seats(buyer_id, event_id, quantity, event.max_per_order, now)
        if voucher is not None:
            await take_voucher_use(db, voucher, now)
        order_id = await self._insert_order(
            buyer_id,
            event_id,
            event.currency,
            lots,
            total,
            voucher,
            priced=priced,
            key=idempotency_key,
            fingerprint=fingerprint,
            now=now,
        )
        lines = [
            await insert_line(db, order_id, lot.sale, lot.quantity, discount)
            for lot, discount in zip(lots, discounts, strict=True)
        ]
        status = TicketStatus.PENDING if priced else TicketStatus.ACTIVE
        await self.connection.execute(
            insert(tickets),
            [
                {
                    "order_id": order_id,
                    "user_id": buyer_id,
                    "event_id": event_id,
                    "ticket_type_id": lot.sale.id,
                    "code": unsigned_placeholder(),
                    "status": status,
                    "created_at": now,
                    "updated_at": now,
                }
                for lot in lots
                for _ in range(lot.quantity)
            ],
        )
        await sign_order(db, self.signer, order_id)
        if not priced:
            await self._in_session(lambda session: self.notifier.tickets_issued(session, order_id))
        order = (await self.connection.execute(select(orders).where(orders.c.id == order_id))).one()
        tickets_issued = await self._tickets_of(order_id)
        return PurchaseResult(order=order_record(order), tickets=tickets_issued, lines=lines)

    async def _check_held_seats(
        self, buyer_id: int, event_id: int, quantity: int, max_per_order: int, now: dt.datetime
    ) -> None:
        """Refuse an unpaid order that would let one buyer hold more than their share of the event.

        Counted after `take_seats`, which locks the event row: purchases of the event run this
        check one after another, and the locking read sees every hold committed before (a plain
        read of REPEATABLE READ would not), so concurrent purchases by one buyer never exceed the
        cap. The refusal rolls the seats back.
        """
        cap = self.max_held_seats_per_user or max_per_order
        held_now = (
            select(func.count())
            .select_from(tickets.join(orders, orders.c.id == tickets.c.order_id))
            .where(
                tickets.c.user_id == buyer_id,
                tickets.c.event_id == event_id,
                tickets.c.status == TicketStatus.PENDING,
                orders.c.status == OrderStatus.PENDING,
                orders.c.expires_at > now,
            )
            .with_for_update()
        )
        held = int(await self.connection.scalar(held_now) or 0)
        if held + quantity > cap:
            message = (
                N_(
                    "you already hold %(held)s unpaid seats for this event and may hold at most %(cap)s:"
                    " pay for or cancel them first"
                )
                if held
                else N_("at most %(cap)s unpaid seats may be held for this event at a time")
            )
            raise TooManySeatsHeld(
                message, values={"held": held, "cap": cap}, held_seats=held, max_held_seats=cap
            )

    async def _insert_order(
        self,
        buyer_id: int,
        event_id: int,
        currency: str,
        lots: Sequence[Lot],
        total: int,
        voucher: SaleVoucher | None,
        *,
        priced: bool,
        key: str | None,
        fingerprint: str,
        now: dt.datetime,
    ) -> int:
        result = await self.connection.execute(
            insert(orders).values(
                user_id=buyer_id,
                event_id=event_id,
                quantity=sum(lot.quantity for lot in lots),
                amount_cents=total,
                voucher_id=None if voucher is None else voucher.id,
                voucher_code=None if voucher is None else voucher.code,
                currency=currency,
                status=OrderStatus.PENDING if priced else OrderStatus.PAID,
                paid_at=None if priced else now,
                expires_at=now + self.reservation_ttl if priced else None,
                payment_provider=self.payments.provider_name if priced else None,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                refunded_cents=0,
                created_at=now,
                updated_at=now,
            )
        )
        primary_key: Any = result.inserted_primary_key
        return int(primary_key[0])

    async def _expire_holds(self, event_id: int) -> int:
        released: int = await self._in_session(lambda session: self.payments.expire_holds(session, event_id))
        return released

    async def _in_session(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        """Run ORM-based hooks of other contexts inside this connection's transaction."""
        session = AsyncSession(bind=self.connection, expire_on_commit=False)
        try:
            outcome = await work(session)
            await session.flush()
            return outcome
        finally:
            await session.close()
