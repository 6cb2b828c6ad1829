"""The purchase's hand-written statements, and the records both purchase paths answer with.

A purchase starts on a driver connection (`ticketflow.db.driver_pool`): the buyer's role and the
cheap refusals, then - for a free purchase of the single type, a flash sale - the whole purchase
in a few more fixed statements. The full path (priced, retried, several types, vouchers) runs on
SQLAlchemy and uses the same statements for the seats, the types, the lines and the voucher, on
the driver under its own connection (`PurchaseStatements.on`). The rules (lock order, sold out,
sales windows) are in `purchase.py`; this module only reads and writes, with the table and column
names of the models (`ticketflow.db.sql`), and answers with plain records.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ticketflow.db.driver import DriverConnection, driver_of
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.ticket_types import OrderLine, TicketType
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import User
from ticketflow.db.models.vouchers import Voucher, voucher_ticket_types
from ticketflow.db.sql import Statement, sql
from ticketflow.domain.notifications.statements import OutboxStatements

SELECT_BUYER = sql("SELECT {u.role}, {u.email}, {u.name} FROM {u} WHERE {u.id} = %s", u=User)
SELECT_SALE_STATE = sql(
    "SELECT {e.status}, {e.max_per_order}, {e.starts_at}, {e.sales_start_at}, {e.sales_end_at},"
    " {e.capacity}, {e.tickets_sold}, {e.tickets_held}, {e.price_cents}, {e.currency}"
    " FROM {e} WHERE {e.id} = %s",
    e=Event,
)
"""The fields of `SaleState`, in order."""
_TAKE_SEATS = (
    "UPDATE {e} SET {counter} = {counter} + %s, {e.updated_at} = %s WHERE {e.id} = %s"
    " AND {e.status} = {scheduled} AND {e.starts_at} > %s"
    " AND {e.capacity} - {e.tickets_sold} - {e.tickets_held} >= %s"
)
TAKE_SOLD_SEATS = sql(
    _TAKE_SEATS.replace("{counter}", "{e.tickets_sold}"), e=Event, scheduled=EventStatus.SCHEDULED
)
"""Seats of a free order: sold at once."""
TAKE_HELD_SEATS = sql(
    _TAKE_SEATS.replace("{counter}", "{e.tickets_held}"), e=Event, scheduled=EventStatus.SCHEDULED
)
"""Seats of a priced order: held until it is paid or expires."""
_TAKE_TYPE_SEATS = (
    "UPDATE {t} SET {counter} = {counter} + %s, {t.updated_at} = %s WHERE {t.id} = %s"
    " AND ({t.capacity} IS NULL OR {t.capacity} - {t.sold} - {t.held} >= %s)"
)
TAKE_TYPE_SOLD_SEATS = sql(_TAKE_TYPE_SEATS.replace("{counter}", "{t.sold}"), t=TicketType)
TAKE_TYPE_HELD_SEATS = sql(_TAKE_TYPE_SEATS.replace("{counter}", "{t.held}"), t=TicketType)
_SALE_TYPE_COLUMNS = "{t.id}, {t.name}, {t.price_cents}, {t.tax_rate_bp}, {t.capacity}, {t.sold}, {t.held}"
SELECT_SALE_TYPES = sql(
    f"SELECT {_SALE_TYPE_COLUMNS}, {{t.max_per_order}}, {{t.sales_start_at}}, {{t.sales_end_at}} FROM {{t}}"
    " WHERE {t.event_id} = %s AND {t.active} = %s AND {t.hidden} = %s ORDER BY {t.position}, {t.id}",
    t=TicketType,
)
"""The types a buyer sees, with their own rules (`OfferedType`): `{quantity}` alone buys the only one."""
SELECT_TYPES_FOR_SALE = sql(
    f"SELECT {_SALE_TYPE_COLUMNS}, {{t.max_per_order}}, {{t.sales_start_at}}, {{t.sales_end_at}},"
    " {t.hidden}, {t.active} FROM {t} WHERE {t.event_id} = %s ORDER BY {t.id}",
    t=TicketType,
)
INSERT_ORDER_LINE = sql(
    "INSERT INTO {ol} ({ol.order_id}, {ol.ticket_type_id}, {ol.name}, {ol.quantity}, {ol.unit_price_cents},"
    " {ol.discount_cents}, {ol.tax_rate_bp}, {ol.amount_cents}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
    ol=OrderLine,
)
SELECT_ORDER_LINES = sql(
    "SELECT {ol.ticket_type_id}, {ol.name}, {ol.quantity}, {ol.unit_price_cents}, {ol.discount_cents},"
    " {ol.tax_rate_bp}, {ol.amount_cents} FROM {ol} WHERE {ol.order_id} = %s ORDER BY {ol.id}",
    ol=OrderLine,
)
INSERT_PAID_ORDER = sql(
    "INSERT INTO {o} ({o.user_id}, {o.event_id}, {o.quantity}, {o.amount_cents}, {o.currency}, {o.status},"
    " {o.paid_at}, {o.request_fingerprint}, {o.refunded_cents}, {o.voucher_id}, {o.voucher_code},"
    " {o.created_at}, {o.updated_at}) VALUES (%s, %s, %s, 0, %s, {paid}, %s, %s, 0, %s, %s, %s, %s)",
    o=Order,
    paid=OrderStatus.PAID,
)
INSERT_ACTIVE_TICKET = sql(
    "INSERT INTO {t} ({t.order_id}, {t.user_id}, {t.event_id}, {t.ticket_type_id}, {t.code}, {t.status},"
    " {t.created_at}, {t.updated_at}) VALUES (%s, %s, %s, %s, %s, {active}, %s, %s)",
    t=Ticket,
    active=TicketStatus.ACTIVE,
)
"""One active ticket (`INSERT_ACTIVE_TICKET.rows(n)`: n of them in one statement)."""
SELECT_UNSIGNED_TICKETS = sql(
    "SELECT {t.id}, {t.event_id}, {t.ticket_type_id} FROM {t} WHERE {t.order_id} = %s AND {t.code} LIKE %s"
    " ORDER BY {t.id}",
    t=Ticket,
)
"""The order's new tickets, still holding their placeholder codes (`lib/ticket_codes.py`)."""
_SET_CODES = "UPDATE {t} SET {t.code} = CASE {t.id} {cases} END WHERE {t.id} IN ({ids})"
SET_CODE = sql(_SET_CODES.replace("{cases}", "WHEN %s THEN %s").replace("{ids}", "%s"), t=Ticket)
"""One ticket's signed code (`set_codes(n)`: n tickets' codes in one statement)."""


@functools.lru_cache(maxsize=64)
def set_codes(count: int) -> Statement:
    """`SET_CODE` for `count` tickets: `CASE id WHEN ? THEN ? ... END WHERE id IN (...)`."""
    cases, ids = " ".join(["WHEN %s THEN %s"] * count), ", ".join(["%s"] * count)
    return sql(_SET_CODES.replace("{cases}", cases).replace("{ids}", ids), t=Ticket)


SELECT_VOUCHER = sql(
    "SELECT {v.id}, {v.code}, {v.kind}, {v.value}, {v.max_uses}, {v.uses}, {v.valid_from},"
    " {v.valid_until}, {v.unlocks_hidden} FROM {v} WHERE {v.event_id} = %s AND {v.code} = %s",
    v=Voucher,
)
SELECT_VOUCHER_TYPES = sql(
    "SELECT {vt.ticket_type_id} FROM {vt} WHERE {vt.voucher_id} = %s", vt=voucher_ticket_types
)
TAKE_VOUCHER_USE = sql(
    "UPDATE {v} SET {v.uses} = {v.uses} + 1, {v.updated_at} = %s WHERE {v.id} = %s"
    " AND ({v.max_uses} IS NULL OR {v.uses} < {v.max_uses})",
    v=Voucher,
)
"""One use, never past `max_uses` whatever the concurrency (taken after the seats: lock order)."""


@dataclass(frozen=True, slots=True)
class Buyer:
    id: int
    role: str
    email: str
    name: str


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
class OfferedType:
    """A ticket type of the event with what decides whether it is on sale."""

    sale: SaleType
    max_per_order: int | None
    sales_start_at: dt.datetime | None
    sales_end_at: dt.datetime | None
    hidden: bool
    active: bool


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
    sale_type: OfferedType | None = None
    """The single visible type a `{quantity}` purchase buys (when read for one)."""

    @property
    def available(self) -> int:
        left = self.capacity - self.tickets_sold - self.tickets_held
        return left if self.sale_type is None else self.sale_type.sale.available(left)


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


@dataclass(frozen=True, slots=True)
class SaleVoucher:
    id: int
    code: str
    kind: str
    value: int
    max_uses: int | None
    uses: int
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    unlocks_hidden: bool
    type_ids: frozenset[int]
    """The types it applies to; empty: every type of its event."""

    def applies_to(self, type_id: int) -> bool:
        return not self.type_ids or type_id in self.type_ids

    def discount(self, price_cents: int) -> int:
        """Off one ticket of a type it applies to, never below a price of 0."""
        if self.kind == "percent":
            return price_cents * self.value // 100
        if self.kind == "amount":
            return min(self.value, price_cents)
        return max(price_cents - self.value, 0)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as a purchase answers with it (either path, or a replay)."""

    id: int
    user_id: int
    event_id: int
    quantity: int
    amount_cents: int
    currency: str
    status: str
    expires_at: dt.datetime | None
    created_at: dt.datetime
    voucher_code: str | None = None


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """A ticket as a purchase answers with it (either path, or a replay)."""

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


class PurchaseStatements:
    """The purchase's statements on one driver transaction (`purchase_transaction`), or on the
    driver under the full path's SQLAlchemy connection (`on`)."""

    __slots__ = ("_db",)

    def __init__(self, db: DriverConnection) -> None:
        self._db = db

    @classmethod
    async def on(cls, connection: AsyncConnection) -> PurchaseStatements:
        """The statements inside `connection`'s transaction."""
        return cls(await driver_of(connection))

    def outbox(self) -> OutboxStatements:
        """Messages queued in this transaction."""
        return OutboxStatements(self._db)

    async def buyer(self, user_id: int) -> Buyer | None:
        row = await self._db.fetchone(SELECT_BUYER, (user_id,))
        return None if row is None else Buyer(user_id, *row)

    async def sale_state(self, event_id: int) -> SaleState | None:
        row = await self._db.fetchone(SELECT_SALE_STATE, (event_id,))
        if row is None:
            return None
        read_time = self._db.read_time
        return SaleState(*row[:2], *(read_time(value) for value in row[2:5]), *row[5:])

    async def sale_types(self, event_id: int) -> list[OfferedType]:
        """The visible, active types, in the buyer's order."""
        read_time = self._db.read_time
        return [
            OfferedType(SaleType(*row[:7]), row[7], read_time(row[8]), read_time(row[9]), False, True)
            for row in await self._db.fetchall(SELECT_SALE_TYPES, (event_id, True, False))
        ]

    async def offered_types(self, event_id: int) -> dict[int, OfferedType]:
        """Every type of the event, by id."""
        read_time = self._db.read_time
        return {
            row[0]: OfferedType(
                SaleType(*row[:7]), row[7], read_time(row[8]), read_time(row[9]), bool(row[10]), bool(row[11])
            )
            for row in await self._db.fetchall(SELECT_TYPES_FOR_SALE, (event_id,))
        }

    async def take_event_seats(self, event_id: int, quantity: int, *, held: bool, now: dt.datetime) -> bool:
        """Take `quantity` seats of the scheduled, not yet started event if it has them left."""
        stamp = self._db.bind_time(now)
        statement = TAKE_HELD_SEATS if held else TAKE_SOLD_SEATS
        return await self._db.execute(statement, (quantity, stamp, event_id, stamp, quantity)) == 1

    async def take_type_seats(self, type_id: int, quantity: int, *, held: bool, now: dt.datetime) -> bool:
        """Take `quantity` seats of the type if its own capacity has them left."""
        statement = TAKE_TYPE_HELD_SEATS if held else TAKE_TYPE_SOLD_SEATS
        return await self._db.execute(statement, (quantity, self._db.bind_time(now), type_id, quantity)) == 1

    async def insert_line(self, order_id: int, line: LineRecord) -> None:
        await self._db.execute(
            INSERT_ORDER_LINE,
            (
                order_id,
                line.ticket_type_id,
                line.name,
                line.quantity,
                line.unit_price_cents,
                line.discount_cents,
                line.tax_rate_bp,
                line.amount_cents,
            ),
        )

    async def order_lines(self, order_id: int) -> list[LineRecord]:
        return [LineRecord(*row) for row in await self._db.fetchall(SELECT_ORDER_LINES, (order_id,))]

    async def insert_paid_order(
        self,
        buyer_id: int,
        event_id: int,
        quantity: int,
        currency: str,
        fingerprint: str,
        now: dt.datetime,
        voucher: tuple[int, str] | None = None,
    ) -> int:
        """A free order, paid at once (redeeming `voucher`, its id and code, if any); returns its id."""
        stamp = self._db.bind_time(now)
        voucher_id, voucher_code = voucher or (None, None)
        return await self._db.insert(
            INSERT_PAID_ORDER,
            (
                buyer_id,
                event_id,
                quantity,
                currency,
                stamp,
                fingerprint,
                voucher_id,
                voucher_code,
                stamp,
                stamp,
            ),
        )

    async def insert_active_tickets(
        self,
        order_id: int,
        buyer_id: int,
        event_id: int,
        type_id: int,
        codes: Sequence[str],
        now: dt.datetime,
    ) -> None:
        """One active ticket per code, in one statement."""
        stamp = self._db.bind_time(now)
        params: list[Any] = [
            value for code in codes for value in (order_id, buyer_id, event_id, type_id, code, stamp, stamp)
        ]
        await self._db.execute(INSERT_ACTIVE_TICKET.rows(len(codes)), params)

    async def unsigned_tickets(self, order_id: int, placeholders: str) -> list[tuple[int, int, int]]:
        """(id, event id, type id) of the order's tickets whose code is `LIKE placeholders`."""
        rows = await self._db.fetchall(SELECT_UNSIGNED_TICKETS, (order_id, placeholders))
        return [(int(row[0]), int(row[1]), int(row[2])) for row in rows]

    async def set_codes(self, codes: Sequence[tuple[int, str]]) -> None:
        """Give each ticket (id, code) its code, in one statement."""
        if codes:
            params = [value for pair in codes for value in pair]
            await self._db.execute(set_codes(len(codes)), [*params, *(ticket_id for ticket_id, _ in codes)])

    async def voucher(self, event_id: int, code: str) -> SaleVoucher | None:
        """The event's voucher the database matches with `code` (its collation decides)."""
        row = await self._db.fetchone(SELECT_VOUCHER, (event_id, code))
        if row is None:
            return None
        voucher_id, found_code, kind, value, max_uses, uses, valid_from, valid_until, unlocks = row
        types = frozenset(int(r[0]) for r in await self._db.fetchall(SELECT_VOUCHER_TYPES, (voucher_id,)))
        read_time = self._db.read_time
        return SaleVoucher(
            voucher_id,
            found_code,
            kind,
            value,
            max_uses,
            uses,
            read_time(valid_from),
            read_time(valid_until),
            bool(unlocks),
            types,
        )

    async def take_voucher_use(self, voucher_id: int, now: dt.datetime) -> bool:
        return await self._db.execute(TAKE_VOUCHER_USE, (self._db.bind_time(now), voucher_id)) == 1


@asynccontextmanager
async def purchase_transaction(drivers: DriverPool) -> AsyncIterator[PurchaseStatements]:
    """The purchase's statements in one transaction: committed on success, rolled back on error."""
    async with drivers.transaction() as db:
        yield PurchaseStatements(db)
