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
that transaction with five more fixed statements. Priced, retried (`Idempotency-Key`) and
hold-blocked purchases run the full path on SQLAlchemy Core and the ORM hooks of payments and
e-mail. Both paths take seats with the same statement (`take_seats`).
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
from ticketflow.db.driver import DriverConnection, driver_of
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role
from ticketflow.domain.notifications.notifier import Notifier, Recipient
from ticketflow.domain.payments.hooks import Payments, PaymentsUnavailable
from ticketflow.lib.errors import ConflictError, EventNotFound, RuleViolation
from ticketflow.lib.roles import require_role
from ticketflow.lib.ticket_codes import new_ticket_code

BUYER_ROLES = frozenset({Role.ATTENDEE, Role.ADMIN})

events = table_of(Event)
orders = table_of(Order)
tickets = table_of(Ticket)


class SoldOut(ConflictError):
    detail = "not enough tickets left"


class SalesClosed(ConflictError):
    detail = "ticket sales are closed for this event"


class TooManySeatsHeld(ConflictError):
    detail = "too many unpaid seats held for this event"


class IdempotencyKeyReused(RuleViolation):
    detail = "this Idempotency-Key was used for a different purchase"


class _SeatsTaken(Exception):
    """Internal: the conditional UPDATE matched no row; the transaction must roll back."""


SELECT_BUYER = "SELECT role, email, name FROM users WHERE id = %s"
SELECT_SALE_STATE = (
    "SELECT status, max_per_order, starts_at, sales_start_at, sales_end_at, capacity, tickets_sold,"
    " tickets_held, price_cents, currency FROM events WHERE id = %s"
)
TAKE_SEATS = (
    "UPDATE events SET {counter} = {counter} + %s, updated_at = %s WHERE id = %s"
    " AND status = 'scheduled' AND starts_at > %s AND capacity - tickets_sold - tickets_held >= %s"
)
TAKE_SOLD_SEATS = TAKE_SEATS.format(counter="tickets_sold")
"""Seats of a free order: sold at once."""
TAKE_HELD_SEATS = TAKE_SEATS.format(counter="tickets_held")
"""Seats of a priced order: held until it is paid or expires."""
SELECT_SALE_TYPES = (
    "SELECT id, name, price_cents, tax_rate_bp, capacity, sold, held FROM ticket_types"
    " WHERE event_id = %s AND active = %s AND hidden = %s ORDER BY position, id"
)
"""The types a buyer sees: `{quantity}` alone buys the only one."""
TAKE_TYPE_SEATS = (
    "UPDATE ticket_types SET {counter} = {counter} + %s, updated_at = %s WHERE id = %s"
    " AND (capacity IS NULL OR capacity - sold - held >= %s)"
)
INSERT_ORDER_LINE = (
    "INSERT INTO order_lines (order_id, ticket_type_id, name, quantity, unit_price_cents, discount_cents,"
    " tax_rate_bp, amount_cents) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_PAID_ORDER = (
    "INSERT INTO orders (user_id, event_id, quantity, amount_cents, currency, status, paid_at,"
    " request_fingerprint, refunded_cents, created_at, updated_at)"
    " VALUES (%s, %s, %s, 0, %s, 'paid', %s, %s, 0, %s, %s)"
)
INSERT_ACTIVE_TICKETS = (
    "INSERT INTO tickets (order_id, user_id, event_id, ticket_type_id, code, status, created_at,"
    " updated_at) VALUES "
)
ACTIVE_TICKET_VALUES = "(%s, %s, %s, %s, %s, 'active', %s, %s)"
SELECT_ORDER_TICKETS = "SELECT id, code FROM tickets WHERE order_id = %s ORDER BY id"


async def take_seats(
    db: DriverConnection, event_id: int, lots: Sequence[Lot], *, held: bool, now: dt.datetime
) -> None:
    """The race-free inventory step of every purchase: one conditional UPDATE of the event row for
    the whole order, then one of each type's row in id order (event first, then types by id: the
    lock order of every seat change).

    Raises `_SeatsTaken` when any matched no row (sold out since the checks, cancelled, started);
    the caller's transaction then rolls back whatever the earlier ones took.
    """
    stamp = db.bind_time(now)
    quantity = sum(lot.quantity for lot in lots)
    statement = TAKE_HELD_SEATS if held else TAKE_SOLD_SEATS
    if await db.execute(statement, (quantity, stamp, event_id, stamp, quantity)) != 1:
        raise _SeatsTaken
    type_statement = TAKE_TYPE_SEATS.format(counter="held" if held else "sold")
    for lot in sorted(lots, key=lambda lot: lot.sale.id):
        if await db.execute(type_statement, (lot.quantity, stamp, lot.sale.id, lot.quantity)) != 1:
            raise _SeatsTaken


@dataclass(frozen=True, slots=True)
class SaleType:
    """The ticket type a purchase buys, as read before the seats are taken."""

    id: int
    name: str
    price_cents: int
    tax_rate_bp: int
    capacity: int | None
    sold: int
    held: int

    def available(self, event_available: int) -> int:
        if self.capacity is None:
            return event_available
        return min(self.capacity - self.sold - self.held, event_available)


@dataclass(frozen=True, slots=True)
class Lot:
    """So many tickets of one type in an order."""

    sale: SaleType
    quantity: int


class TypeNotOnSale(RuleViolation):
    detail = "a ticket type asked for is not on sale for this event"


class TypesSoldOut(ConflictError):
    detail = "not enough tickets left of the types asked for"


SELECT_TYPES_FOR_SALE = (
    "SELECT id, name, price_cents, tax_rate_bp, capacity, sold, held, max_per_order, sales_start_at,"
    " sales_end_at, hidden, active FROM ticket_types WHERE event_id = %s ORDER BY id"
)


async def lots_for_items(
    db: DriverConnection,
    event_id: int,
    items: Sequence[tuple[int, int]],
    max_per_order: int,
    now: dt.datetime,
    voucher: SaleVoucher | None = None,
) -> list[Lot]:
    """The types an order of `items` (type id, quantity) buys, checked: each visible, active, in
    its sale window and within its `max_per_order`; the same type twice counts once."""
    wanted: dict[int, int] = {}
    for type_id, quantity in items:
        wanted[type_id] = wanted.get(type_id, 0) + quantity
    rows = {row[0]: row for row in await db.fetchall(SELECT_TYPES_FOR_SALE, (event_id,))}
    lots = []
    for type_id, quantity in sorted(wanted.items()):
        row = rows.get(type_id)
        if row is None or not row[11]:
            raise TypeNotOnSale(ticket_type_id=type_id)
        if row[10] and not (voucher is not None and voucher.unlocks_hidden and voucher.applies_to(type_id)):
            if voucher is not None:
                raise VoucherRefused(
                    "voucher_not_applicable", "this voucher does not unlock this ticket type"
                )
            raise TypeNotOnSale(ticket_type_id=type_id)
        start, end = db.read_time(row[8]), db.read_time(row[9])
        if (start is not None and now < start) or (end is not None and now >= end):
            raise SalesClosed("ticket sales of this type are closed", ticket_type_id=type_id)
        limit = min(row[7] or max_per_order, max_per_order)
        if quantity > limit:
            raise RuleViolation(
                f"at most {limit} tickets of this type per order", ticket_type_id=type_id, max_per_order=limit
            )
        lots.append(Lot(SaleType(*row[:7]), quantity))
    return lots


def types_sold_out(lots: Sequence[Lot], event_available: int) -> TypesSoldOut:
    return TypesSoldOut(
        available={str(lot.sale.id): max(lot.sale.available(event_available), 0) for lot in lots}
    )


class SeveralTypes(RuleViolation):
    detail = "this event sells several ticket types: choose them with `items`"


def single_type(rows: list[Any]) -> SaleType:
    """The only visible type on sale; `{quantity}` alone cannot choose among several."""
    if len(rows) != 1:
        raise SeveralTypes if rows else SalesClosed("no ticket type of this event is on sale")
    return SaleType(*rows[0])


async def sale_type(db: DriverConnection, event_id: int) -> SaleType:
    return single_type(await db.fetchall(SELECT_SALE_TYPES, (event_id, True, False)))


async def insert_line(
    db: DriverConnection, order_id: int, sale: SaleType, quantity: int, discount: int = 0
) -> LineRecord:
    line = line_of(sale, quantity, discount)
    await db.execute(
        INSERT_ORDER_LINE,
        (
            order_id,
            sale.id,
            sale.name,
            quantity,
            line.unit_price_cents,
            line.discount_cents,
            line.tax_rate_bp,
            line.amount_cents,
        ),
    )
    return line


def insert_active_tickets(quantity: int) -> str:
    """One INSERT of `quantity` active tickets."""
    return INSERT_ACTIVE_TICKETS + ", ".join([ACTIVE_TICKET_VALUES] * quantity)


@dataclass(frozen=True, slots=True)
class SaleState:
    status: str
    max_per_order: int
    starts_at: dt.datetime
    sales_start_at: dt.datetime | None
    sales_end_at: dt.datetime | None
    capacity: int
    tickets_sold: int
    tickets_held: int
    price_cents: int
    currency: str
    sale_type: SaleType | None = None

    @property
    def available(self) -> int:
        left = self.capacity - self.tickets_sold - self.tickets_held
        return left if self.sale_type is None else self.sale_type.available(left)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as written by the lean free purchase (the ORM path returns table rows)."""

    id: int
    user_id: int
    event_id: int
    quantity: int
    amount_cents: int
    currency: str
    status: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: int
    order_id: int
    user_id: int
    event_id: int
    code: str
    status: str
    used_at: dt.datetime | None
    created_at: dt.datetime
    ticket_type_id: int | None = None
    attendee_name: str | None = None


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
    order: Row[Any] | OrderRecord
    tickets: list[Row[Any]] | list[TicketRecord]
    replayed: bool = False
    holder_name: str = ""
    """The buyer's name: every ticket of a new order shows it until an attendee is named."""
    lines: list[LineRecord] = dataclasses.field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LineRecord:
    """An order line as written (or read back for a replay)."""

    ticket_type_id: int
    name: str
    quantity: int
    unit_price_cents: int
    discount_cents: int
    tax_rate_bp: int
    amount_cents: int


SELECT_ORDER_LINES = (
    "SELECT ticket_type_id, name, quantity, unit_price_cents, discount_cents, tax_rate_bp, amount_cents"
    " FROM order_lines WHERE order_id = %s ORDER BY id"
)


def line_of(sale: SaleType, quantity: int, discount: int = 0) -> LineRecord:
    amount = sale.price_cents * quantity - discount
    return LineRecord(sale.id, sale.name, quantity, sale.price_cents, discount, sale.tax_rate_bp, amount)


SELECT_VOUCHER = (
    "SELECT id, code, kind, value, max_uses, uses, valid_from, valid_until, unlocks_hidden FROM vouchers"
    " WHERE event_id = %s AND code = %s"
)
SELECT_VOUCHER_TYPES = "SELECT ticket_type_id FROM voucher_ticket_types WHERE voucher_id = %s"
TAKE_VOUCHER_USE = (
    "UPDATE vouchers SET uses = uses + 1, updated_at = %s WHERE id = %s"
    " AND (max_uses IS NULL OR uses < max_uses)"
)
"""One use, never past `max_uses` whatever the concurrency (taken after the seats: lock order)."""


class VoucherRefused(RuleViolation):
    """422 with `extra.reason`: unknown_voucher, voucher_expired, voucher_used_up, voucher_not_applicable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail, reason=reason)


@dataclass(frozen=True, slots=True)
class SaleVoucher:
    id: int
    code: str
    kind: str
    value: int
    unlocks_hidden: bool
    type_ids: frozenset[int]

    def applies_to(self, type_id: int) -> bool:
        return not self.type_ids or type_id in self.type_ids

    def discount(self, price_cents: int) -> int:
        """Off one ticket of a type it applies to, never below a price of 0."""
        if self.kind == "percent":
            return price_cents * self.value // 100
        if self.kind == "amount":
            return min(self.value, price_cents)
        return max(price_cents - self.value, 0)


async def find_voucher(db: DriverConnection, event_id: int, code: str, now: dt.datetime) -> SaleVoucher:
    row = await db.fetchone(SELECT_VOUCHER, (event_id, code))
    if row is None or row[1] != code:
        raise VoucherRefused("unknown_voucher", "no such voucher for this event")
    voucher_id, _, kind, value, max_uses, uses, valid_from, valid_until, unlocks = row
    start, end = db.read_time(valid_from), db.read_time(valid_until)
    if (start is not None and now < start) or (end is not None and now >= end):
        raise VoucherRefused("voucher_expired", "this voucher is not valid now")
    if max_uses is not None and uses >= max_uses:
        raise VoucherRefused("voucher_used_up", "this voucher has been used up")
    types = frozenset(int(r[0]) for r in await db.fetchall(SELECT_VOUCHER_TYPES, (voucher_id,)))
    return SaleVoucher(voucher_id, code, kind, value, bool(unlocks), types)


async def take_voucher_use(db: DriverConnection, voucher: SaleVoucher, now: dt.datetime) -> None:
    if await db.execute(TAKE_VOUCHER_USE, (db.bind_time(now), voucher.id)) != 1:
        raise VoucherRefused("voucher_used_up", "this voucher has been used up")


async def lines_of_order(db: DriverConnection, order_id: int) -> list[LineRecord]:
    return [LineRecord(*row) for row in await db.fetchall(SELECT_ORDER_LINES, (order_id,))]


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
        raise SalesClosed("the event is cancelled")
    if event.starts_at <= now:
        raise SalesClosed("the event has already started")
    if event.sales_start_at is not None and now < event.sales_start_at:
        raise SalesClosed(
            "ticket sales have not started yet", sales_start_at=event.sales_start_at.isoformat()
        )
    if event.sales_end_at is not None and now >= event.sales_end_at:
        raise SalesClosed("ticket sales have ended")
    if quantity > event.max_per_order:
        raise RuleViolation(
            f"quantity must be between 1 and {event.max_per_order}", max_per_order=event.max_per_order
        )


def sold_out(available: int) -> SoldOut:
    message = "sold out" if available <= 0 else f"only {available} tickets left"
    return SoldOut(message, tickets_available=max(available, 0))


async def sale_state(db: DriverConnection, event_id: int, *, single: bool = True) -> SaleState:
    """The event's sale state; with `single`, the one visible type `{quantity}` buys."""
    row = await db.fetchone(SELECT_SALE_STATE, (event_id,))
    if row is None:
        raise EventNotFound
    state = SaleState(*row[:2], *(db.read_time(value) for value in row[2:5]), *row[5:])
    return dataclasses.replace(state, sale_type=await sale_type(db, event_id)) if single else state


async def check_first(
    db: DriverConnection, buyer_id: int, event_id: int, quantity: int, *, replay_possible: bool
) -> tuple[Recipient, SaleState | None]:
    """Cheap answers before any write: the buyer's role now, unknown event, closed or sold out.

    Plain reads on a driver connection; returns the buyer and what was read of the sale (None for
    a purchase that may be a retry). When they pass, the purchase transaction decides for real.
    """
    _, email, name = await require_role(db, buyer_id, BUYER_ROLES, SELECT_BUYER)
    buyer = (buyer_id, email, name)
    if replay_possible:
        return buyer, None  # a retried purchase must get its first answer even if sales closed since
    state = await sale_state(db, event_id)
    check_sales_open(state, quantity, utc_now())
    if state.available < quantity and state.tickets_held == 0:
        raise sold_out(state.available)
    return buyer, state


async def buy_free_tickets(
    db: DriverConnection, notifier: Notifier, buyer: Recipient, event_id: int, quantity: int, state: SaleState
) -> PurchaseResult:
    """A free purchase in the transaction of `check_first`: the seats, the paid order, its line,
    its active tickets and their e-mail, in a few fixed statements on the driver (the flash-sale
    path)."""
    now = utc_now()
    stamp = db.bind_time(now)
    sale = state.sale_type
    currency = state.currency
    if sale is None:  # pragma: no cover - sale_state always reads it
        raise SalesClosed
    await take_seats(db, event_id, [Lot(sale, quantity)], held=False, now=now)
    buyer_id = buyer[0]
    fingerprint = purchase_fingerprint(event_id, quantity)
    order_id = await db.insert(
        INSERT_PAID_ORDER, (buyer_id, event_id, quantity, currency, stamp, fingerprint, stamp, stamp)
    )
    line = await insert_line(db, order_id, sale, quantity)
    await db.execute(
        insert_active_tickets(quantity),
        [
            value
            for _ in range(quantity)
            for value in (order_id, buyer_id, event_id, sale.id, new_ticket_code(), stamp, stamp)
        ],
    )
    await notifier.tickets_issued_to(db, buyer, event_id=event_id, order_id=order_id)
    issued = await db.fetchall(SELECT_ORDER_TICKETS, (order_id,))
    order = OrderRecord(order_id, buyer_id, event_id, quantity, 0, currency, OrderStatus.PAID, None, now)
    tickets = [
        TicketRecord(ticket_id, order_id, buyer_id, event_id, code, TicketStatus.ACTIVE, None, now, sale.id)
        for ticket_id, code in issued
    ]
    return PurchaseResult(order=order, tickets=tickets, lines=[line])


class PurchaseService:
    """Buying tickets: the checks, and a free purchase, on one driver connection; the full path
    (priced, retried or hold-blocked purchases) on one SQLAlchemy connection after them."""

    def __init__(
        self,
        engine: AsyncEngine,
        drivers: DriverPool,
        notifier: Notifier,
        payments: Payments,
        reservation_ttl_seconds: int,
        max_held_seats_per_user: int = 0,
    ) -> None:
        self.engine = engine
        self.drivers = drivers
        self.notifier = notifier
        self.payments = payments
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
            async with self.drivers.transaction() as db:
                buyer, state = await check_first(
                    db,
                    buyer_id,
                    event_id,
                    quantity,
                    replay_possible=idempotency_key is not None
                    or items is not None
                    or voucher_code is not None,
                )
                free = state is not None and state.sale_type is not None and state.sale_type.price_cents == 0
                if state is not None and free and state.available >= quantity:
                    result = await buy_free_tickets(db, self.notifier, buyer, event_id, quantity, state)
                    result.holder_name = buyer[2]
                    return result
            async with self.engine.connect() as connection:
                unit = _Purchase(
                    connection,
                    self.notifier,
                    self.payments,
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
            async with self.drivers.transaction() as db:
                if items is not None:
                    state = await sale_state(db, event_id, single=False)
                    now = utc_now()
                    lots = await lots_for_items(db, event_id, items, state.max_per_order, now)
                    raise types_sold_out(
                        lots, state.capacity - state.tickets_sold - state.tickets_held
                    ) from None
                state = await sale_state(db, event_id)
            raise sold_out(state.available) from None


class _Purchase:
    """The full path of one purchase on one connection, in one transaction (after `check_first`):
    idempotent replays, released holds, priced orders with held seats."""

    def __init__(
        self,
        connection: AsyncConnection,
        notifier: Notifier,
        payments: Payments,
        reservation_ttl_seconds: int,
        max_held_seats_per_user: int,
    ) -> None:
        self.connection = connection
        self.notifier = notifier
        self.payments = payments
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
        lines = await lines_of_order(await driver_of(self.connection), order.id)
        return PurchaseResult(
            order=order, tickets=await self._tickets_of(order.id), replayed=True, lines=lines
        )

    async def _tickets_of(self, order_id: int) -> list[Row[Any]]:
        rows = await self.connection.execute(
            select(tickets).where(tickets.c.order_id == order_id).order_by(tickets.c.id)
        )
        return list(rows)

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
        event = (await self.connection.execute(select(events).where(events.c.id == event_id))).first()
        if event is None:
            raise EventNotFound
        if items is not None:
            quantity = sum(q for _, q in items)
        check_sales_open(event, quantity, now)
        db = await driver_of(self.connection)
        voucher = None if voucher_code is None else await find_voucher(db, event_id, voucher_code, now)
        if items is None:
            lots = [Lot(await sale_type(db, event_id), quantity)]
        else:
            lots = await lots_for_items(db, event_id, items, event.max_per_order, now, voucher)
        discounts = [0] * len(lots)
        if voucher is not None:
            if not any(voucher.applies_to(lot.sale.id) for lot in lots):
                raise VoucherRefused("voucher_not_applicable", "this voucher is not valid for these tickets")
            discounts = [
                voucher.discount(lot.sale.price_cents) * lot.quantity
                if voucher.applies_to(lot.sale.id)
                else 0
                for lot in lots
            ]
        total = sum(lot.sale.price_cents * lot.quantity for lot in lots) - sum(discounts)
        priced = total > 0
        if priced and not self.payments.accepts_priced_orders():
            raise PaymentsUnavailable
        event_left = event.capacity - event.tickets_sold - event.tickets_held
        short = event_left < quantity or any(lot.sale.available(event_left) < lot.quantity for lot in lots)
        # Unpaid holds past their time may be what blocks the sale: release them first.
        if short and (not event.tickets_held or not await self._expire_holds(event_id)):
            if items is None:
                raise sold_out(lots[0].sale.available(event_left))
            raise types_sold_out(lots, event_left)
        # Take seats (and, for an unpaid order, stay within the buyer's share of held seats).
        await take_seats(db, event_id, lots, held=priced, now=now)
        if priced:
            await self._check_held_seats(buyer_id, event_id, quantity, event.max_per_order, now)
        if voucher is not None:
            await take_voucher_use(db, voucher, now)
        order_id = await self._insert_order(
            buyer_id,
            event,
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
                    "code": new_ticket_code(),
                    "status": status,
                    "created_at": now,
                    "updated_at": now,
                }
                for lot in lots
                for _ in range(lot.quantity)
            ],
        )
        if not priced:
            await self._in_session(lambda session: self.notifier.tickets_issued(session, order_id))
        order = (await self.connection.execute(select(orders).where(orders.c.id == order_id))).one()
        return PurchaseResult(order=order, tickets=await self._tickets_of(order_id), lines=lines)

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
                f"you already hold {held} unpaid seats for this event and may hold at most {cap}:"
                " pay for or cancel them first"
                if held
                else f"at most {cap} unpaid seats may be held for this event at a time"
            )
            raise TooManySeatsHeld(message, held_seats=held, max_held_seats=cap)

    async def _insert_order(
        self,
        buyer_id: int,
        event: Row[Any],
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
                event_id=event.id,
                quantity=sum(lot.quantity for lot in lots),
                amount_cents=total,
                voucher_id=None if voucher is None else voucher.id,
                voucher_code=None if voucher is None else voucher.code,
                currency=event.currency,
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
