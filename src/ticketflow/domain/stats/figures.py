"""Business figures for `GET /metrics`: tickets, door scans and the e-mail outbox, counted in the
database at scrape time with one aggregate query each (every process reports the same numbers)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import CheckIn, ScanResult
from ticketflow.db.models.outbox import OutboxMessage, OutboxStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus

MetricFamily = TypeVar("MetricFamily", GaugeMetricFamily, CounterMetricFamily)

logger = logging.getLogger("ticketflow.stats")


async def _count_by(session: AsyncSession, column: InstrumentedAttribute[str]) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).group_by(column))
    return dict(rows.all())


def _one_sample_each(family: MetricFamily, labels: Iterable[StrEnum], counts: dict[str, int]) -> MetricFamily:
    """A sample for every label value, 0 for those the database has no rows of."""
    for label in labels:
        family.add_metric([label.value], counts.get(label.value, 0))
    return family


async def business_figures(session_maker: async_sessionmaker[AsyncSession]) -> list[Metric]:
    """Tickets, door scans and the e-mail outbox, counted with one aggregate query each."""
    async with session_maker() as session:
        tickets = await _count_by(session, Ticket.status)
        scans = await _count_by(session, CheckIn.result)
        outbox = await _count_by(session, OutboxMessage.status)
        oldest_pending = await session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
        )

    by_status = _one_sample_each(
        GaugeMetricFamily("ticketflow_tickets", "Tickets by status, now.", labels=["status"]),
        TicketStatus,
        tickets,
    )
    sold = GaugeMetricFamily(
        "ticketflow_tickets_sold",
        "Tickets sold and still valid for entry or already used (active + used).",
        value=tickets.get(TicketStatus.ACTIVE, 0) + tickets.get(TicketStatus.USED, 0),
    )
    scanned = _one_sample_each(
        CounterMetricFamily("ticketflow_scans", "Door scans recorded, by result.", labels=["result"]),
        ScanResult,
        scans,
    )
    messages = _one_sample_each(
        GaugeMetricFamily(
            "ticketflow_outbox_messages",
            "E-mails in the outbox by status; pending + sending + failed is the backlog.",
            labels=["status"],
        ),
        OutboxStatus,
        outbox,
    )
    age = 0.0 if oldest_pending is None else max(0.0, (utc_now() - oldest_pending).total_seconds())
    oldest = GaugeMetricFamily(
        "ticketflow_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending e-mail (0 when none): grows when no worker delivers.",
        value=age,
    )
    return [by_status, sold, scanned, messages, oldest]


class BusinessFigures:
    """The scrape-time collector: the figures, and whether the database answered."""

    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.session_maker = session_maker

    async def __call__(self) -> list[Metric]:
        families: list[Metric] = []
        try:
            families = await business_figures(self.session_maker)
            up = 1
        except Exception:
            logger.warning("metrics: the database did not answer", exc_info=True)
            up = 0
        families.append(
            GaugeMetricFamily(
                "ticketflow_database_up", "1 when the database answered this scrape's queries.", value=up
            )
        )
        return families
