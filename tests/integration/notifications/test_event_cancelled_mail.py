"""The event-cancelled e-mail: only to those the cancellation takes tickets from, and a refund
promised only to those it refunds."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from tests.integration.payments.flow import buy_pending, expire_hold, order_row, pay_order, priced_event
from tests.support.api import make_actor
from tests.support.mail import body, outbox_rows, subject, worker_pass
from ticketflow.db.models.orders import OrderStatus
from ticketflow.db.models.outbox import MessageKind, OutboxStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.domain.payments.service import PaymentService

REFUND_SENTENCE = "will be refunded"


async def test_only_holders_of_tickets_the_cancellation_takes_are_told(
    client, db, smtp_server, worker
) -> None:
    admin = await make_actor(client, db, role="admin")
    expired, cancelled_before, paid, reserved = [await make_actor(client, db) for _ in range(4)]
    event = await priced_event(client, admin, title="Gala", capacity=10)
    lapsed = await buy_pending(client, expired, event["id"])
    await expire_hold(db, lapsed["order"]["id"])
    assert isinstance(worker.payments, PaymentService)
    assert await worker.payments.sweep_expired_holds() == 1
    refunded = await buy_pending(client, cancelled_before, event["id"])
    await pay_order(client, refunded)
    (refunded_ticket,) = refunded["tickets"]
    own_cancel = await client.post(
        f"/tickets/{refunded_ticket['id']}/cancel", headers=cancelled_before.headers
    )
    assert own_cancel.status_code == 200, own_cancel.text
    kept = await buy_pending(client, paid, event["id"], quantity=2)
    await pay_order(client, kept)
    unpaid = await buy_pending(client, reserved, event["id"])
    assert (await order_row(db, lapsed["order"]["id"])).status == OrderStatus.EXPIRED
    assert (await order_row(db, refunded["order"]["id"])).status == OrderStatus.REFUNDED
    await worker_pass(worker)
    before = len(smtp_server.messages)

    assert (await client.delete(f"/events/{event['id']}", headers=admin.headers)).status_code == 204
    await worker_pass(worker)

    notices = {m.rcpt_tos[0]: m.parsed() for m in smtp_server.messages[before:]}
    assert sorted(notices) == sorted([paid.email, reserved.email])
    for notice in notices.values():
        assert subject(notice) == "[Ticket-Flow] Event cancelled: Gala"
    paid_text, reserved_text = body(notices[paid.email], "plain"), body(notices[reserved.email], "plain")
    assert "Your tickets are no longer valid" in paid_text
    assert REFUND_SENTENCE in paid_text
    assert REFUND_SENTENCE in body(notices[paid.email], "html")
    assert "Your ticket is no longer valid" in reserved_text
    assert REFUND_SENTENCE not in reserved_text
    rows = [row for row in await outbox_rows(db) if row.kind == MessageKind.EVENT_CANCELLED]
    assert sorted((row.recipient, row.status) for row in rows) == sorted(
        [(paid.email, OutboxStatus.SENT), (reserved.email, OutboxStatus.SENT)]
    )
    named = {row.recipient: msgspec.json.decode(row.payload or "{}")["tickets"] for row in rows}
    assert named == {
        paid.email: [ticket["id"] for ticket in kept["tickets"]],
        reserved.email: [ticket["id"] for ticket in unpaid["tickets"]],
    }
    assert (await order_row(db, kept["order"]["id"])).status == OrderStatus.REFUNDED
    assert (await order_row(db, unpaid["order"]["id"])).status == OrderStatus.CANCELLED
    async with db() as session:
        statuses = set(await session.scalars(select(Ticket.status).where(Ticket.event_id == event["id"])))
    assert statuses == {TicketStatus.CANCELLED}
