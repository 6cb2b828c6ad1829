"""Aggregate queries behind the stats API and the dashboard.

Every figure is computed by the database with GROUP BY / COUNT / SUM: no query loads tickets,
orders or scans row by row. Time series are grouped in SQL by 15-minute slots of UTC time (one
row a slot with activity); turning slots into local days or labels happens on those few rows.
All reads of one report run in one transaction, so its figures agree with each other.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import ADMISSIONS, CheckIn, ScanResult
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.outbox import OutboxMessage, OutboxStatus
from ticketflow.db.models.payments import Payment, PaymentStatus, Refund, RefundStatus
from ticketflow.db.models.ticket_types import OrderLine, TicketType
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import User
from ticketflow.db.models.vouchers import Voucher
from ticketflow.domain.stats.schemas import (
    CheckInSlot,
    CurrencyRevenue,
    DailySales,
    EventFigures,
    EventStats,
    StatsOverview,
    Totals,
    TypeFigures,
    VoucherFigures,
)
from ticketflow.lib.errors import EventNotFound

SLOT_SECONDS = 900
"""Width of a time slot: 15 minutes. Every UTC offset in use is a multiple of it."""
SOLD_STATUSES = (TicketStatus.ACTIVE, TicketStatus.USED)
EXPORT_BATCH = 1000


class slot_number(FunctionElement[int]):  # noqa: N801 - SQL function naming
    """`floor(unix_time(ts) / 900)` for a naive-UTC timestamp column, on SQLite and MySQL/MariaDB."""

    type = Integer()
    inherit_cache = True
    name = "slot_number"


@compiles(slot_number, "sqlite")
def _slot_number_sqlite(element: slot_number, compiler: SQLCompiler, **kw: Any) -> str:
    timestamp = compiler.process(element.clauses, **kw)
    return f"(CAST(strftime('%s', {timestamp}) AS INTEGER) / {SLOT_SECONDS})"


@compiles(slot_number, "mysql")
@compiles(slot_number, "mariadb")
def _slot_number_mysql(element: slot_number, compiler: SQLCompiler, **kw: Any) -> str:
    # TIMESTAMPDIFF does not depend on the session time zone (UNIX_TIMESTAMP would).
    timestamp = compiler.process(element.clauses, **kw)
    return f"(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {timestamp}) DIV {SLOT_SECONDS})"


REFUSALS = (ScanResult.ALREADY_USED, ScanResult.INVALID)
"""Scans that kept someone out (exits and undos are neither admissions nor refusals)."""


def slot_start(slot: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(slot * SLOT_SECONDS, dt.UTC)


def rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole > 0 else 0.0


def paid_orders() -> ColumnElement[bool]:
    """Orders money was taken for (later refunds are subtracted, not hidden)."""
    return or_(Order.status == OrderStatus.PAID, Order.paid_at.is_not(None))


@dataclass(frozen=True, slots=True)
class Attention:
    """What needs a person: e-mails that gave up, refunds the provider keeps refusing."""

    failed_emails: int
    failed_refunds: int


@dataclass(slots=True)
class TicketExportRow:
    ticket_id: int
    status: str
    order_id: int
    order_status: str
    holder_name: str
    holder_email: str
    created_at: dt.datetime
    used_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    ticket_type: str
    voucher_code: str | None


@dataclass(slots=True)
class CheckInExportRow:
    check_in_id: int
    scanned_at: dt.datetime
    result: str
    reason: str | None
    ticket_id: int | None
    holder_name: str | None
    holder_email: str | None
    scanned_by: str | None


class StatsService:
    """Read-only reports. Each public method is one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- reports ----------------------------------------------------------------------------

    async def overview(self) -> StatsOverview:
        """Every event (latest first), the totals, and sales per UTC day."""
        try:
            events = list(
                await self.session.scalars(select(Event).order_by(Event.starts_at.desc(), Event.id))
            )
            figures = await self._figures(events, event_id=None)
            sales = await self._sales_per_day(event_id=None, zone=ZoneInfo("UTC"))
        finally:
            await self.session.rollback()
        return StatsOverview(
            generated_at=utc_now(), totals=totals(figures), events=figures, sales_per_day=sales
        )

    async def event_stats(self, event_id: int) -> EventStats:
        """One event's figures, sales per local day and check-ins per 15 minutes."""
        try:
            event = await self.session.get(Event, event_id)
            if event is None:
                raise EventNotFound
            zone = ZoneInfo(event.timezone)
            (figures,) = await self._figures([event], event_id=event_id)
            sales = await self._sales_per_day(event_id=event_id, zone=zone)
            slots = await self._check_ins_per_slot(event_id=event_id, zone=zone)
            vouchers = await self._voucher_figures(event_id)
        finally:
            await self.session.rollback()
        return EventStats(
            generated_at=utc_now(),
            figures=figures,
            sales_per_day=sales,
            check_ins_per_15_min=slots,
            vouchers=vouchers,
        )

    async def attention(self) -> Attention:
        failed_emails = (
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
        )
        failed_refunds = select(func.count()).select_from(Refund).where(Refund.status == RefundStatus.FAILED)
        try:
            emails, refunds = (
                await self.session.execute(
                    select(failed_emails.scalar_subquery(), failed_refunds.scalar_subquery())
                )
            ).one()
        finally:
            await self.session.rollback()
        return Attention(failed_emails=int(emails or 0), failed_refunds=int(refunds or 0))

    async def event_exists(self, event_id: int) -> bool:
        try:
            return await self.session.get(Event, event_id) is not None
        finally:
            await self.session.rollback()

    # -- exports (keyset pages, so a large event streams in constant memory) ----------------

    async def ticket_export_page(
        self, event_id: int, after_id: int, limit: int = EXPORT_BATCH
    ) -> list[TicketExportRow]:
        stmt = (
            select(
                Ticket.id,
                Ticket.status,
                Ticket.order_id,
                Order.status,
                # the holder's name as the door shows it (`ATTENDEE_OR_HOLDER`): the attendee's
                func.coalesce(Ticket.attendee_name, User.name),
                User.email,
                Ticket.created_at,
                Ticket.used_at,
                Ticket.cancelled_at,
                TicketType.name,
                Order.voucher_code,
            )
            .join(Order, Order.id == Ticket.order_id)
            .join(User, User.id == Ticket.user_id)
            .join(TicketType, TicketType.id == Ticket.ticket_type_id)
            .where(Ticket.event_id == event_id, Ticket.id > after_id)
            .order_by(Ticket.id)
            .limit(limit)
        )
        return [TicketExportRow(*row) for row in await self._read(stmt)]

    async def check_in_export_page(
        self, event_id: int, after_id: int, limit: int = EXPORT_BATCH
    ) -> list[CheckInExportRow]:
        holder = User.__table__.alias("holder")
        scanner = User.__table__.alias("scanner")
        stmt = (
            select(
                CheckIn.id,
                CheckIn.scanned_at,
                CheckIn.result,
                CheckIn.reason,
                CheckIn.ticket_id,
                func.coalesce(Ticket.attendee_name, holder.c.name),  # as the door shows it
                holder.c.email,
                scanner.c.email,
            )
            .outerjoin(Ticket, Ticket.id == CheckIn.ticket_id)
            .outerjoin(holder, holder.c.id == Ticket.user_id)
            .outerjoin(scanner, scanner.c.id == CheckIn.scanned_by_id)
            .where(CheckIn.event_id == event_id, CheckIn.id > after_id)
            .order_by(CheckIn.id)
            .limit(limit)
        )
        return [CheckInExportRow(*row) for row in await self._read(stmt)]

    # -- queries ----------------------------------------------------------------------------

    async def _read(self, stmt: Select[*tuple[Any, ...]]) -> list[Any]:
        """All rows of `stmt`, in a transaction of its own."""
        try:
            return list(await self.session.execute(stmt))
        finally:
            await self.session.rollback()

    async def _figures(self, events: Sequence[Event], event_id: int | None) -> list[EventFigures]:
        # grouped by status first: SQLite then reads the table once instead of walking an index
        # and each row from it (the counts by status over all events take a third less time)
        tickets = await self._grouped(
            select(Ticket.event_id, Ticket.status, func.count()).group_by(Ticket.status, Ticket.event_id),
            Ticket.event_id,
            event_id,
        )
        refused = await self._grouped(
            select(CheckIn.event_id, CheckIn.result, func.count())
            .where(CheckIn.result.in_((*REFUSALS, ScanResult.DUPLICATE_ADMISSION)))
            .group_by(CheckIn.event_id, CheckIn.result),
            CheckIn.event_id,
            event_id,
        )
        money: dict[int, tuple[int, int]] = {}
        money_stmt = (
            select(Order.event_id, func.sum(Order.amount_cents), func.sum(Order.refunded_cents))
            .where(paid_orders())
            .group_by(Order.event_id)
        )
        if event_id is not None:
            money_stmt = money_stmt.where(Order.event_id == event_id)
        for row_event_id, gross, refunded in await self.session.execute(money_stmt):
            money[row_event_id] = (int(gross or 0), int(refunded or 0))
        types = await self._type_figures(events, event_id)
        return [
            event_figures(
                event,
                tickets.get(event.id, {}),
                refused.get(event.id, {}),
                money.get(event.id),
                types.get(event.id, []),
            )
            for event in events
        ]

    async def _type_figures(
        self, events: Sequence[Event], event_id: int | None
    ) -> dict[int, list[TypeFigures]]:
        """Each event's types with their counters, door and money figures (grouped by type in SQL).

        A refund is the type's when it names a ticket; an order refunded as a whole (its event
        cancelled) gives back every line, so its lines count as refunded to their types.
        """

        def of_event(stmt: Select[*tuple[Any, ...]], column: Any) -> Select[*tuple[Any, ...]]:
            return stmt if event_id is None else stmt.where(column == event_id)

        types = list(
            await self.session.scalars(
                of_event(select(TicketType), TicketType.event_id).order_by(TicketType.position, TicketType.id)
            )
        )
        tickets = await self._by_key(
            of_event(
                # grouped by status first, as in `_figures`
                select(Ticket.ticket_type_id, Ticket.status, func.count()).group_by(
                    Ticket.status, Ticket.ticket_type_id
                ),
                Ticket.event_id,
            )
        )
        paid_lines = select(OrderLine.ticket_type_id, func.sum(OrderLine.amount_cents)).join(
            Order, Order.id == OrderLine.order_id
        )
        gross = await self._sums(
            of_event(paid_lines.where(paid_orders()), Order.event_id).group_by(OrderLine.ticket_type_id)
        )
        accepted_refunds = (
            select(Refund.order_id)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(Payment.status == PaymentStatus.ACCEPTED)
        )
        whole = accepted_refunds.where(Refund.ticket_id.is_(None))
        refunded_whole = await self._sums(
            of_event(paid_lines.where(Order.id.in_(whole)), Order.event_id).group_by(OrderLine.ticket_type_id)
        )
        refunded_tickets = await self._sums(
            of_event(
                select(Ticket.ticket_type_id, func.sum(Refund.amount_cents))
                .select_from(Refund)
                .join(Payment, Payment.id == Refund.payment_id)
                .join(Ticket, Ticket.id == Refund.ticket_id)
                .where(Payment.status == PaymentStatus.ACCEPTED, Refund.order_id.not_in(whole)),
                Ticket.event_id,
            ).group_by(Ticket.ticket_type_id)
        )
        left = {event.id: event.tickets_available for event in events}
        figures: dict[int, list[TypeFigures]] = defaultdict(list)
        for ticket_type in types:
            by_status = tickets.get(ticket_type.id, {})
            refunded = refunded_whole.get(ticket_type.id, 0) + refunded_tickets.get(ticket_type.id, 0)
            event_left = max(left.get(ticket_type.event_id, 0), 0)
            own_left = ticket_type.remaining
            figures[ticket_type.event_id].append(
                TypeFigures(
                    ticket_type_id=ticket_type.id,
                    name=ticket_type.name,
                    price_cents=ticket_type.price_cents,
                    capacity=ticket_type.capacity,
                    hidden=ticket_type.hidden,
                    active=ticket_type.active,
                    tickets_sold=ticket_type.sold,
                    tickets_held=ticket_type.held,
                    tickets_available=event_left if own_left is None else min(own_left, event_left),
                    tickets_cancelled=by_status.get(TicketStatus.CANCELLED, 0),
                    checked_in=by_status.get(TicketStatus.USED, 0),
                    gross_cents=gross.get(ticket_type.id, 0),
                    refunded_cents=refunded,
                    revenue_cents=gross.get(ticket_type.id, 0) - refunded,
                )
            )
        return figures

    async def _voucher_figures(self, event_id: int) -> list[VoucherFigures]:
        """The event's vouchers with what the orders redeeming them bought and paid."""
        vouchers = list(
            await self.session.scalars(
                select(Voucher).where(Voucher.event_id == event_id).order_by(Voucher.code)
            )
        )
        if not vouchers:
            return []
        tickets = await self._by_key(
            select(Order.voucher_id, Ticket.status, func.count())
            .join(Order, Order.id == Ticket.order_id)
            .where(Ticket.event_id == event_id, Order.voucher_id.is_not(None))
            .group_by(Order.voucher_id, Ticket.status)
        )
        money = {
            voucher_id: (int(orders), int(gross or 0), int(refunded or 0))
            for voucher_id, orders, gross, refunded in await self.session.execute(
                select(
                    Order.voucher_id,
                    func.count(),
                    func.sum(Order.amount_cents),
                    func.sum(Order.refunded_cents),
                )
                .where(Order.event_id == event_id, Order.voucher_id.is_not(None), paid_orders())
                .group_by(Order.voucher_id)
            )
        }
        discounts = await self._sums(
            select(Order.voucher_id, func.sum(OrderLine.discount_cents))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.event_id == event_id, Order.voucher_id.is_not(None), paid_orders())
            .group_by(Order.voucher_id)
        )
        figures = []
        for voucher in vouchers:
            by_status = tickets.get(voucher.id, {})
            orders, gross, refunded = money.get(voucher.id, (0, 0, 0))
            figures.append(
                VoucherFigures(
                    voucher_id=voucher.id,
                    code=voucher.code,
                    kind=voucher.kind,
                    value=voucher.value,
                    max_uses=voucher.max_uses,
                    uses=voucher.uses,
                    orders_paid=orders,
                    tickets_sold=by_status.get(TicketStatus.ACTIVE, 0) + by_status.get(TicketStatus.USED, 0),
                    tickets_held=by_status.get(TicketStatus.PENDING, 0),
                    checked_in=by_status.get(TicketStatus.USED, 0),
                    discount_cents=discounts.get(voucher.id, 0),
                    gross_cents=gross,
                    refunded_cents=refunded,
                    revenue_cents=gross - refunded,
                )
            )
        return figures

    async def _by_key(self, stmt: Select[*tuple[Any, ...]]) -> dict[int, dict[str, int]]:
        """Rows `(id, key, count)` as `{id: {key: count}}` (rows without an id left out)."""
        grouped: dict[int, dict[str, int]] = defaultdict(dict)
        for row_id, key, count in await self.session.execute(stmt):
            if row_id is not None:
                grouped[int(row_id)][key] = int(count)
        return grouped

    async def _sums(self, stmt: Select[*tuple[Any, ...]]) -> dict[int, int]:
        """Rows `(id, sum)` as `{id: sum}`."""
        return {int(row_id): int(total or 0) for row_id, total in await self.session.execute(stmt)}

    async def _grouped(
        self, stmt: Select[Any, str, int], event_column: Any, event_id: int | None
    ) -> dict[int, dict[str, int]]:
        """Rows `(event_id, key, count)` as `{event_id: {key: count}}`."""
        return await self._by_key(stmt if event_id is None else stmt.where(event_column == event_id))

    async def _sales_per_day(self, event_id: int | None, zone: ZoneInfo) -> list[DailySales]:
        sold_at = func.coalesce(Order.paid_at, Ticket.created_at)
        slot = slot_number(sold_at)
        stmt = (
            select(slot, func.count())
            .select_from(Ticket)
            .join(Order, Order.id == Ticket.order_id)
            .where(Ticket.status.in_(SOLD_STATUSES))
            .group_by(slot)
        )
        if event_id is not None:
            stmt = stmt.where(Ticket.event_id == event_id)
        days: dict[dt.date, int] = defaultdict(int)
        for slot_value, count in await self.session.execute(stmt):
            days[slot_start(int(slot_value)).astimezone(zone).date()] += int(count)
        return [DailySales(date=day.isoformat(), tickets=days[day]) for day in sorted(days)]

    async def _check_ins_per_slot(self, event_id: int, zone: ZoneInfo) -> list[CheckInSlot]:
        slot = slot_number(CheckIn.scanned_at)
        stmt = (
            select(slot, CheckIn.result, func.count())
            .where(CheckIn.event_id == event_id)
            .group_by(slot, CheckIn.result)
        )
        slots: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for slot_value, result, count in await self.session.execute(stmt):
            if result in ADMISSIONS or result in REFUSALS:
                slots[int(slot_value)][0 if result in ADMISSIONS else 1] += int(count)
        return [
            CheckInSlot(
                starts_at=slot_start(key).astimezone(zone), admitted=slots[key][0], refused=slots[key][1]
            )
            for key in sorted(slots)
        ]


def event_figures(
    event: Event,
    tickets_by_status: dict[str, int],
    refused_by_result: dict[str, int],
    money: tuple[int, int] | None,
    ticket_types: list[TypeFigures] | None = None,
) -> EventFigures:
    gross, refunded = money or (0, 0)
    checked_in = tickets_by_status.get(TicketStatus.USED, 0)
    return EventFigures(
        event_id=event.id,
        title=event.title,
        starts_at=event.starts_at,
        timezone=event.timezone,
        status=EventStatus(event.status),
        currency=event.currency,
        capacity=event.capacity,
        tickets_sold=event.tickets_sold,
        tickets_held=event.tickets_held,
        tickets_available=event.tickets_available,
        tickets_cancelled=tickets_by_status.get(TicketStatus.CANCELLED, 0),
        checked_in=checked_in,
        check_in_rate=rate(checked_in, event.tickets_sold),
        scans_refused=sum(refused_by_result.get(result, 0) for result in REFUSALS),
        duplicate_admissions=refused_by_result.get(ScanResult.DUPLICATE_ADMISSION, 0),
        gross_cents=gross,
        refunded_cents=refunded,
        revenue_cents=gross - refunded,
        ticket_types=ticket_types or [],
    )


def totals(figures: Iterable[EventFigures]) -> Totals:
    rows = list(figures)
    money: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row.gross_cents or row.refunded_cents:
            money[row.currency][0] += row.gross_cents
            money[row.currency][1] += row.refunded_cents
    sold = sum(r.tickets_sold for r in rows)
    checked_in = sum(r.checked_in for r in rows)
    return Totals(
        events=len(rows),
        capacity=sum(r.capacity for r in rows),
        tickets_sold=sold,
        tickets_held=sum(r.tickets_held for r in rows),
        tickets_available=sum(r.tickets_available for r in rows),
        tickets_cancelled=sum(r.tickets_cancelled for r in rows),
        checked_in=checked_in,
        check_in_rate=rate(checked_in, sold),
        scans_refused=sum(r.scans_refused for r in rows),
        duplicate_admissions=sum(r.duplicate_admissions for r in rows),
        revenue=[
            CurrencyRevenue(
                currency=currency,
                gross_cents=gross,
                refunded_cents=refunded,
                revenue_cents=gross - refunded,
            )
            for currency, (gross, refunded) in sorted(money.items())
        ],
    )
