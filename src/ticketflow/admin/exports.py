"""CSV exports of an event's tickets and door scans, streamed page by page.

Cells are made safe for spreadsheets (`ticketflow.lib.csv_cells`).
Ticket codes are not exported: they are admission credentials.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from ticketflow.domain.stats.service import CheckInExportRow, StatsService, TicketExportRow
from ticketflow.lib.csv_cells import safe_cell
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
