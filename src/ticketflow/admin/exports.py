"""CSV exports of an event's tickets and door scans, streamed page by page, and of its figures
per ticket type and per voucher.

Cells are made safe for spreadsheets (`ticketflow.lib.csv_cells`).
Ticket codes are not exported: they are admission credentials.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from ticketflow.domain.stats.service import CheckInExportRow, StatsService, TicketExportRow
from ticketflow.lib.csv_cells import csv_text, safe_cell
from ticketflow.lib.state import AppContext

ExportRow = TicketExportRow | CheckInExportRow


async def stream_csv(
    row_type: type[ExportRow], fetch_page: Callable[[int], Awaitable[Sequence[ExportRow]]]
) -> AsyncIterator[str]:
    """The header (the row type's field names), then one chunk a page of rows.

    Pages are read by keyset on the first field (the row id), each in its own short
    transaction, so a large event streams in constant memory without holding a lock.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([field.name for field in dataclasses.fields(row_type)])
    after = 0
    while True:
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        page = await fetch_page(after)
        if not page:
            return
        for row in page:
            writer.writerow([safe_cell(value) for value in dataclasses.astuple(row)])
        after = int(dataclasses.astuple(page[-1])[0])


def ticket_csv(context: AppContext, event_id: int) -> AsyncIterator[str]:
    async def fetch(after: int) -> Sequence[ExportRow]:
        async with context.session_maker() as session:
            return await StatsService(session).ticket_export_page(event_id, after)

    return stream_csv(TicketExportRow, fetch)


def check_in_csv(context: AppContext, event_id: int) -> AsyncIterator[str]:
    async def fetch(after: int) -> Sequence[ExportRow]:
        async with context.session_maker() as session:
            return await StatsService(session).check_in_export_page(event_id, after)

    return stream_csv(CheckInExportRow, fetch)


FIGURES_HEADER = (
    "row",
    "id",
    "name",
    "tickets_sold",
    "tickets_held",
    "checked_in",
    "gross_cents",
    "refunded_cents",
    "revenue_cents",
    "currency",
    "capacity",
    "price_cents",
    "max_uses",
    "uses",
    "discount_cents",
)
"""One row per ticket type (`row` = `ticket_type`), then one per voucher (`voucher`, named by its
code); the columns that do not apply to a row are empty."""


async def figures_csv(context: AppContext, event_id: int) -> str:
    async with context.session_maker() as session:
        stats = await StatsService(session).event_stats(event_id)
    currency = stats.figures.currency
    rows: list[tuple[object, ...]] = [
        (
            "ticket_type",
            t.ticket_type_id,
            t.name,
            t.tickets_sold,
            t.tickets_held,
            t.checked_in,
            t.gross_cents,
            t.refunded_cents,
            t.revenue_cents,
            currency,
            t.capacity,
            t.price_cents,
            None,
            None,
            None,
        )
        for t in stats.figures.ticket_types
    ]
    rows += [
        (
            "voucher",
            v.voucher_id,
            v.code,
            v.tickets_sold,
            v.tickets_held,
            v.checked_in,
            v.gross_cents,
            v.refunded_cents,
            v.revenue_cents,
            currency,
            None,
            None,
            v.max_uses,
            v.uses,
            v.discount_cents,
        )
        for v in stats.vouchers
    ]
    return csv_text(FIGURES_HEADER, rows)
