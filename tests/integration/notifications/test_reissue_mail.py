"""A ticket given a new code reaches its holder by e-mail, in their language: only that ticket, with
a QR code and a PDF page that a real reader decodes to the new code; the old code appears nowhere."""

from __future__ import annotations

from tests.support.documents import pdf_qr_codes
from tests.support.mail import attachments, body, bought, qr_codes_inline, subject, worker_pass


async def test_the_holder_gets_only_the_reissued_ticket_with_its_new_code(
    client, db, smtp_server, worker
) -> None:
    order = await bought(client, db, quantity=2, title="Gala")
    kept, leaked = order.tickets
    await worker_pass(worker)  # the purchase's own e-mail
    smtp_server.messages.clear()

    response = await client.post(f"/tickets/{leaked['id']}/reissue", headers=order.holder.headers)
    assert response.status_code == 200, response.text
    new_code = response.json()["code"]

    assert (await worker_pass(worker)).sent == 1
    (received,) = smtp_server.messages
    message = received.parsed()
    assert received.rcpt_tos == [order.holder.email]
    assert subject(message) == "[Ticket-Flow] New code for your ticket for Gala"
    for part in ("plain", "html"):
        text = body(message, part)
        assert "Your ticket has a new code" in text
        assert new_code in text
        assert leaked["code"] not in text
        assert kept["code"] not in text
    assert set(qr_codes_inline(message).values()) == {new_code}
    (pdf,) = attachments(message, "application/pdf")
    assert pdf_qr_codes(pdf.get_payload(decode=True)) == [new_code]


async def test_a_spanish_holder_reads_it_in_spanish(client, db, smtp_server, worker) -> None:
    order = await bought(client, db, title="Gala")
    holder, (ticket,) = order.holder, order.tickets
    assert (await client.patch("/me", json={"locale": "es"}, headers=holder.headers)).status_code == 200
    await worker_pass(worker)
    smtp_server.messages.clear()

    response = await client.post(f"/tickets/{ticket['id']}/reissue", headers=order.admin.headers)
    assert response.status_code == 200, response.text

    assert (await worker_pass(worker)).sent == 1
    message = smtp_server.messages[0].parsed()
    assert subject(message) == "[Ticket-Flow] Nuevo código para tu entrada para Gala"
    assert "Tu entrada tiene un código nuevo." in body(message, "plain")
    assert set(qr_codes_inline(message).values()) == {response.json()["code"]}
