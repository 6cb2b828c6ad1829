"""Response bodies of the notifications API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from ticketflow.db.models.outbox import MessageKind, OutboxStatus
from ticketflow.lib.pagination import Page, schema_name


class OutboxEntry(msgspec.Struct):
    """One queued e-mail and how its delivery went."""

    id: int
    kind: MessageKind
    status: OutboxStatus
    recipient: str
    attempts: int
    next_attempt_at: dt.datetime
    """When it is (or was last) due; while `sending`, when the worker's claim expires."""
    last_error: str | None
    sent_at: dt.datetime | None
    created_at: dt.datetime
    event_id: int | None
    order_id: int | None
    ticket_id: int | None


OutboxPage = Annotated[Page[OutboxEntry], schema_name("OutboxPage")]
