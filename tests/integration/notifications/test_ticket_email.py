"""The ticket e-mail, end to end: buy through the API, run the worker, read what the SMTP server got."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from tests.support.api import buy, buy_one_of_each, make_actor, make_event, second_type
from tests.support.documents import pdf_fonts, pdf_pages_text, pdf_qr_codes
from tests.support.factories import in_days
from tests.support.mail import (
    attachments,
    body,
    bought,
    calendar_event,
    outbox_rows,
    qr_codes_inline,
    subject,
    worker_pass,
)
from ticketflow.db.models.outbox import OutboxStatus
from ticketflow.plugins import plugins_of as collect_extensions
from ticketflow.worker import run_jobs_once


async def test_bought_tickets_arrive_with_qr_codes_and_calendar(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Ada Lovelace")
    starts_at = in_days(20).replace(hour=11, minute=30, second=0)
    event = await make_event(
        client,
        admin,
        title="Night of the Analytical Engine",
        venue="Royal Institution, London",
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=3),
        timezone="Asia/Tokyo",
    )
    purchase = await buy(client, holder, event["id"], quantity=2)
    assert purchase.status_code == 201
    codes = {ticket["code"] for ticket in purchase.json()["tickets"]}
    (queued,) = await outbox_rows(db)
    assert queued.status == OutboxStatus.PENDING
    assert queued.order_id == purchase.json()["order"]["id"]
    assert smtp_server.messages == []

    handled = await run_jobs_once(worker, collect_extensions(worker).background_jobs)

    assert handled >= 1
    (received,) = smtp_server.messages
    assert received.rcpt_tos == [holder.email]
    assert received.mail_from == "tickets@example.com"
    message = received.parsed()
    assert subject(message) == "[Ticket-Flow] Your 2 tickets for Night of the Analytical Engine"
    assert message["From"].addresses[0].display_name == "Ticket-Flow Box Office"
    assert message["To"].addresses[0].addr_spec == holder.email
    assert message["To"].addresses[0].display_name == "Ada Lovelace"
    assert message["Message-ID"] == queued.message_id

    inline = qr_codes_inline(message)
    assert set(inline.values()) == codes
    html = body(message, "html")
    for content_id in inline:
        assert f'src="cid:{content_id}"' in html
    png_files = attachments(message, "image/png")
    assert len(png_files) == 2
    assert all(re.fullmatch(r"ticket-\d+\.png", part.get_filename() or "") for part in png_files)

    local = starts_at.astimezone(ZoneInfo("Asia/Tokyo"))
    text = body(message, "plain")
    assert "Hello Ada Lovelace," in text
    assert f"{local:%H:%M}-{local + dt.timedelta(hours=3):%H:%M} (Asia/Tokyo)" in text
    assert f"{local.day} {local:%B %Y}" in text
    assert "Royal Institution, London" in text
    assert all(code in text for code in codes)

    invitation = calendar_event(message)
    assert invitation.decoded("dtstart") == starts_at
    assert invitation.decoded("dtend") == starts_at + dt.timedelta(hours=3)
    assert str(invitation["uid"]) == f"event-{event['id']}@example.com"
    assert str(invitation["summary"]) == "Night of the Analytical Engine"
    assert str(invitation["status"]) == "CONFIRMED"

    (sent,) = await outbox_rows(db)
    assert sent.status == OutboxStatus.SENT
    assert sent.attempts == 1
    assert sent.sent_at is not None
    assert sent.last_error is None

    assert (await worker_pass(worker)).claimed == 0
    assert len(smtp_server.messages) == 1


async def test_one_message_per_order(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    first = await make_actor(client, db)
    second = await make_actor(client, db)
    event = await make_event(client, admin)
    assert (await buy(client, first, event["id"], quantity=3)).status_code == 201
    assert (await buy(client, first, event["id"])).status_code == 201
    assert (await buy(client, second, event["id"])).status_code == 201

    report = await worker_pass(worker)

    assert report.sent == 3
    by_recipient = sorted((m.rcpt_tos[0], len(qr_codes_inline(m.parsed()))) for m in smtp_server.messages)
    assert by_recipient == sorted([(first.email, 3), (first.email, 1), (second.email, 1)])


async def test_tickets_cancelled_before_delivery_are_not_mailed(client, db, smtp_server, worker) -> None:
    purchase = await bought(client, db, quantity=2)
    holder, event, tickets = purchase.holder, purchase.event, purchase.tickets
    cancel = await client.post(f"/tickets/{tickets[0]['id']}/cancel", headers=holder.headers)
    assert cancel.status_code == 200

    await worker_pass(worker)

    subjects = sorted(subject(m.parsed()) for m in smtp_server.messages)
    assert subjects == [
        f"[Ticket-Flow] Ticket cancelled: {event['title']}",
        f"[Ticket-Flow] Your ticket for {event['title']}",
    ]
    ticket_mail = next(m.parsed() for m in smtp_server.messages if "Your ticket" in subject(m.parsed()))
    assert set(qr_codes_inline(ticket_mail).values()) == {tickets[1]["code"]}


async def test_the_ticket_email_carries_the_orders_pdf(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Ada Lovelace")
    event = await make_event(client, admin, title="Concierto de Año Nuevo", venue="Auditorio Nacional")
    purchase = (await buy(client, holder, event["id"], quantity=2)).json()
    first, second = purchase["tickets"]
    renamed = await client.patch(
        f"/tickets/{second['id']}", json={"attendee_name": "Grace Łukasiewicz"}, headers=holder.headers
    )
    assert renamed.status_code == 200

    await run_jobs_once(worker, collect_extensions(worker).background_jobs)

    (received,) = smtp_server.messages
    (pdf,) = attachments(received.parsed(), "application/pdf")
    assert pdf.get_filename() == f"tickets-order-{purchase['order']['id']}.pdf"
    document = pdf.get_payload(decode=True)
    assert isinstance(document, bytes)
    pages = pdf_pages_text(document)
    assert len(pages) == 2
    assert all("Concierto de Año Nuevo" in page and "Auditorio Nacional" in page for page in pages)
    assert all(f"Ticket type {first['ticket_type_name']}" in " ".join(page.split()) for page in pages)
    assert "Ada Lovelace" in pages[0]
    assert "Grace Łukasiewicz" in pages[1]  # set in the embedded font, as written
    assert pdf_fonts(document)["DejaVuSansBold"]
    assert "Ada Lovelace" not in pages[1]
    assert pdf_qr_codes(document) == [first["code"], second["code"]]


async def test_each_ticket_in_the_email_names_its_type_escaped(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Ada Lovelace")
    event = await make_event(client, admin, title="Gala")
    type_ids = await second_type(client, admin, event["id"], name="VIP <b>&</b>", price_cents=0)
    purchase = await buy_one_of_each(client, holder, event["id"], type_ids)
    general = purchase["order"]["lines"][0]["name"]

    await run_jobs_once(worker, collect_extensions(worker).background_jobs)

    (received,) = smtp_server.messages
    text, html = body(received.parsed(), "plain"), body(received.parsed(), "html")
    assert f"Ticket 1 of 2 - {general}" in text
    assert "Ticket 2 of 2 - VIP <b>&</b>" in text
    assert "Ticket 2 of 2 &middot; VIP &lt;b&gt;&amp;&lt;/b&gt;" in html
    assert "<b>&</b>" not in html
