"""The payment side of the background worker, run one pass at a time in the tests."""

from __future__ import annotations

from dataclasses import dataclass

from ticketflow.domain.payments.service import PaymentService
from ticketflow.lib.plugins import BackgroundJob
from ticketflow.lib.state import AppContext


@dataclass
class Worker:
    """The background worker as `ticketflow worker` builds it, run one pass at a time."""

    context: AppContext
    jobs: dict[str, BackgroundJob]

    @property
    def payments(self) -> PaymentService:
        assert isinstance(self.context.payments, PaymentService)
        return self.context.payments

    async def expire_holds(self) -> int:
        return await self.jobs["payments-expire-holds"](self.context)

    async def refunds(self) -> int:
        return await self.jobs["payments-refunds"](self.context)
