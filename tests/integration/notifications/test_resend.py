"""`POST /tickets/{id}/resend`: owner or admin, rate-limited, queues the ticket e-mail again."""

from __future__ import annotations

import msgspec

from tests.support.api import make_actor
from tests.support.mail import (
    bought,
    outbox_rows,
    qr_codes_inline,
    subject,
    worker_pass,
)
from ticketflow.db.models.outbox import MessageKind, OutboxStatus
from ticketflow.domain.notifications.service import RESEND_PER_TICKET, RESEND_WINDOW_SECONDS


async def bought_tickets(client, db, quantity: int = 1):
    purchase = await bought(client, db, quantity=quantity)
    return purchase.admin, purchase.holder, purchase.tickets


async def test_owner_resend_mails_the_whole_order_again(client, db, smtp_server, worker) -> None:
    _, holder, tickets = await bought_tickets(client, db, quantity=2)
    await worker_pass(worker)

    response = await client.post(f"/tickets/{tickets[1]['id']}/resend", headers=holder.headers)

    assert response.status_code == 202
    queued = response.json()
    assert (queued["kind"], queued["status"], queued["recipient"]) == ("tickets", "pending", holder.email)
    assert queued["ticket_id"] == tickets[1]["id"]
    await worker_pass(worker)
    first, again = (m.parsed() for m in smtp_server.messages)
    assert subject(again) == subject(first) + " (sent again)"
    assert set(qr_codes_inline(again).values()) == {t["code"] for t in tickets}
    assert again["Message-ID"] != first["Message-ID"]
    rows = await outbox_rows(db)
    assert [(r.kind, r.status) for r in rows] == [(MessageKind.TICKETS, OutboxStatus.SENT)] * 2
    assert msgspec.json.decode(rows[1].payload) == {"resend": True}


async def test_admin_may_resend_to_the_holder(client, db, smtp_server, worker) -> None:
    admin, holder, (ticket,) = await bought_tickets(client, db)

    response = await client.post(f"/tickets/{ticket['id']}/resend", headers=admin.headers)

    assert response.status_code == 202
    await worker_pass(worker)
    assert [m.rcpt_tos for m in smtp_server.messages] == [[holder.email], [holder.email]]


async def test_others_and_strangers_are_refused(client, db) -> None:
    _, _, (ticket,) = await bought_tickets(client, db)
    other = await make_actor(client, db)
    staff = await make_actor(client, db, role="staff")
    before = len(await outbox_rows(db))

    assert (await client.post(f"/tickets/{ticket['id']}/resend", headers=other.headers)).status_code == 404
    assert (await client.post("/tickets/987654/resend", headers=other.headers)).status_code == 404
    assert (await client.post(f"/tickets/{ticket['id']}/resend", headers=staff.headers)).status_code == 403
    assert (await client.post(f"/tickets/{ticket['id']}/resend")).status_code == 401
    assert (await client.post("/tickets/0/resend", headers=other.headers)).status_code == 400
    assert (await client.post("/tickets/abc/resend", headers=other.headers)).status_code in (400, 404)
    assert len(await outbox_rows(db)) == before


async def test_resend_is_rate_limited_per_ticket(client, db) -> None:
    admin, holder, (ticket,) = await bought_tickets(client, db)
    url = f"/tickets/{ticket['id']}/resend"

    statuses = [
        (await client.post(url, headers=holder.headers)).status_code for _ in range(RESEND_PER_TICKET)
    ]
    refused = await client.post(url, headers=holder.headers)
    by_admin = await client.post(url, headers=admin.headers)

    assert statuses == [202] * RESEND_PER_TICKET
    assert refused.status_code == 429
    assert RESEND_WINDOW_SECONDS - 60 <= int(refused.headers["Retry-After"]) <= RESEND_WINDOW_SECONDS
    assert by_admin.status_code == 429  # the holder's inbox is protected, whoever asks
    resends = [r for r in await outbox_rows(db) if r.ticket_id == ticket["id"]]
    assert len(resends) == RESEND_PER_TICKET


async def test_a_cancelled_ticket_cannot_be_resent(client, db) -> None:
    _, holder, (ticket,) = await bought_tickets(client, db)
    assert (await client.post(f"/tickets/{ticket['id']}/cancel", headers=holder.headers)).status_code == 200
    before = len(await outbox_rows(db))

    response = await client.post(f"/tickets/{ticket['id']}/resend", headers=holder.headers)

    assert response.status_code == 409
    assert response.json()["extra"]["status"] == "cancelled"
    assert len(await outbox_rows(db)) == before
