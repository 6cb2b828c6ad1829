"""A transfer tells both holders, each in their own language: the giver learns the ticket is gone
(never its new code), the receiver gets it with a QR code a real reader decodes to the new code."""

from __future__ import annotations

from tests.integration.payments.flow import buy_pending, pay_order, priced_event
from tests.support.api import buy, make_actor, make_event
from tests.support.documents import pdf_qr_codes
from tests.support.mail import attachments, body, qr_codes_inline, subject, worker_pass


async def test_both_holders_hear_of_a_transfer_in_their_language(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    giver = await make_actor(client, db, name="Ada Lovelace")
    receiver = await make_actor(client, db, name="Grace Hopper")
    assert (await client.patch("/me", json={"locale": "es"}, headers=receiver.headers)).status_code == 200
    event = await make_event(client, admin, title="Gala")
    ticket = (await buy(client, giver, event["id"])).json()["tickets"][0]
    await worker_pass(worker)  # the purchase's own e-mail
    smtp_server.messages.clear()

    response = await client.post(
        f"/tickets/{ticket['id']}/transfer", json={"email": receiver.email}, headers=giver.headers
    )
    assert response.status_code == 200, response.text
    new_code = (await client.get(f"/tickets/{ticket['id']}", headers=receiver.headers)).json()["code"]

    assert (await worker_pass(worker)).sent == 2
    by_recipient = {m.rcpt_tos[0]: m.parsed() for m in smtp_server.messages}
    gone, received = by_recipient[giver.email], by_recipient[receiver.email]

    assert subject(gone) == "[Ticket-Flow] Ticket transferred: Gala"
    for part in ("plain", "html"):
        assert "Grace Hopper" in body(gone, part)
        assert new_code not in body(gone, part)
        assert ticket["code"] not in body(gone, part)
    assert attachments(gone, "image/png") == []

    assert subject(received) == "[Ticket-Flow] Te han transferido una entrada para Gala"
    assert "Ada Lovelace te ha transferido una entrada." in body(received, "plain")
    assert set(qr_codes_inline(received).values()) == {new_code}
    (pdf,) = attachments(received, "application/pdf")
    assert pdf_qr_codes(pdf.get_payload(decode=True)) == [new_code]


async def test_a_refund_is_promised_only_to_whoever_paid(client, db, smtp_server, worker) -> None:
    """A paid ticket given away and then cancelled by its new holder: the money goes back to the
    buyer, so the new holder's cancellation e-mail promises them no refund; the buyer cancelling
    a ticket of their own is told of it."""
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db, name="Ada Lovelace")
    receiver = await make_actor(client, db, name="Grace Hopper")
    event = await priced_event(client, admin, title="Gala")
    purchase = await buy_pending(client, buyer, event["id"], quantity=2)
    await pay_order(client, purchase)
    given, kept = purchase["tickets"]
    transferred = await client.post(
        f"/tickets/{given['id']}/transfer", json={"email": receiver.email}, headers=buyer.headers
    )
    assert transferred.status_code == 200, transferred.text
    await worker_pass(worker)
    smtp_server.messages.clear()

    for ticket, holder in ((given, receiver), (kept, buyer)):
        cancelled = await client.post(f"/tickets/{ticket['id']}/cancel", headers=holder.headers)
        assert cancelled.status_code == 200, cancelled.text
    assert (await worker_pass(worker)).sent == 2

    by_recipient = {m.rcpt_tos[0]: m.parsed() for m in smtp_server.messages}
    promise = "will be refunded to your original payment method"
    assert promise not in body(by_recipient[receiver.email], "plain")
    assert promise in body(by_recipient[buyer.email], "plain")
