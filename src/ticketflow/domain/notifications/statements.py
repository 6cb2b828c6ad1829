"""The notifications context's hand-written statement: queueing messages on a driver connection,
inside a hot path's transaction (a free purchase queues its ticket e-mail so).

The ORM path inserts the same rows (`OutboxNotifier._rows`) through SQLAlchemy (`outbox.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ticketflow.db.driver import DriverConnection
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.db.sql import sql

OUTBOX_COLUMNS = (  # every column a queued message fills (`OutboxNotifier._rows`), in this order
    "kind", "status", "message_id", "recipient", "recipient_name", "user_id", "event_id", "order_id",
    "ticket_id", "payload", "attempts", "next_attempt_at", "created_at", "updated_at",
)  # fmt: skip
INSERT_MESSAGE = sql(
    f"INSERT INTO {{m}} ({', '.join(f'{{m.{column}}}' for column in OUTBOX_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(OUTBOX_COLUMNS))})",
    m=OutboxMessage,
)


class OutboxStatements:
    """The outbox of the transaction a hot path runs on its driver connection."""

    __slots__ = ("_db",)

    def __init__(self, db: DriverConnection) -> None:
        self._db = db

    async def queue(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert `rows` (column values by name) in one statement; returns how many were written."""
        if not rows:
            return 0
        bind_time = self._db.bind_time
        params = [
            bind_time(value) if isinstance(value, dt.datetime) else value
            for row in rows
            for value in (row[column] for column in OUTBOX_COLUMNS)
        ]
        return await self._db.execute(INSERT_MESSAGE.rows(len(rows)), params)
