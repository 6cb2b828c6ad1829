"""The base of the contexts' services: an advanced-alchemy repository service with our conventions.

- The service keeps its `session`: each public method is one transaction and commits it itself
  (the repository only flushes).
- Database errors are not wrapped: the caller sees SQLAlchemy's own exceptions (a taken e-mail is an
  `IntegrityError`, an unreachable server an `OperationalError`), as on every other path.
- A list is counted with a second `SELECT count(*)`, not a window function, so a page past the
  end still tells the total.
- `page` answers one `LimitOffset` page in a stable order, as `OffsetPagination`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.repository.typing import ModelT
from advanced_alchemy.service import OffsetPagination, SQLAlchemyAsyncRepositoryService
from sqlalchemy import ColumnElement, UnaryExpression
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.driver import again_if_deadlocked, deadlock

RepositoryT = TypeVar("RepositoryT", bound=SQLAlchemyAsyncRepository[Any])
T = TypeVar("T")


async def again_if_deadlocked_in(session: AsyncSession, work: Callable[[], Awaitable[T]]) -> T:
    """`work()`, one transaction on `session`, run again from its start while MySQL/MariaDB makes
    it a deadlock's victim (`again_if_deadlocked`; the session is rolled back first, so `work`
    reads everything anew). For the use cases that lock the event's row and then rows a scan or
    a transfer locks in the other order (a ticket, then the event's row through a foreign key or
    the admission's check)."""

    async def attempt() -> T:
        try:
            return await work()
        except Exception as error:
            if deadlock(error):
                await session.rollback()
            raise

    return await again_if_deadlocked(attempt)


class RepositoryService(SQLAlchemyAsyncRepositoryService[ModelT, RepositoryT]):
    count_with_window_function = False

    def __init__(self, session: AsyncSession, **options: Any) -> None:
        super().__init__(session=session, **({"wrap_exceptions": False} | options))
        self.session = session

    async def page(
        self,
        *conditions: ColumnElement[bool],
        limit_offset: LimitOffset,
        order_by: Sequence[UnaryExpression[Any]],
    ) -> OffsetPagination[ModelT]:
        """The rows matching `conditions`, one page of them, and how many match in all."""
        items, total = await self.get_many_and_count(*conditions, limit_offset, order_by=list(order_by))
        return OffsetPagination(
            items=items, total=total, limit=limit_offset.limit, offset=limit_offset.offset
        )
