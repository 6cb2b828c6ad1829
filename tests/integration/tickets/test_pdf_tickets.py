"""PDF tickets: opened, read and scanned as a holder's printer and the door scanner would."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from tests.support.api import buy, make_actor, make_event
from tests.support.documents import pdf_fonts, pdf_pages_text, pdf_qr_codes
from tests.support.factories import in_days


async def test_the_holder_downloads_a_printable_ticket(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Ada Lovelace")
    starts_at = in_days(12).replace(hour=18, minute=30, second=0)
    event = await make_event(
        client,
        admin,
        title="Noche de Flamenco",
        venue="Teatro Real, Madrid",
        starts_at=starts_at,
        timezone="Europe/Madrid",
    )
    first, second = (await buy(client, holder, event["id"], quantity=2)).json()["tickets"]
    named = await client.patch(
        f"/tickets/{second['id']}", json={"attendee_name": "José Núñez"}, headers=holder.headers
    )
    assert named.status_code == 200

    response = await client.get(f"/tickets/{second['id']}/ticket.pdf", headers=holder.headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'inline; filename="ticket-{second["id"]}.pdf"'
    assert "no-cache" in response.headers["cache-control"]
    (text,) = pdf_pages_text(response.content)
    local = starts_at.astimezone(ZoneInfo("Europe/Madrid"))
    assert "Noche de Flamenco" in text
    assert "Teatro Real, Madrid" in text
    assert "José Núñez" in text
    assert "Ada Lovelace" not in text
    assert f"{local.day} {local:%B %Y}, {local:%H:%M} (Europe/Madrid)" in text
    assert f"#{second['order_id']} - ticket #{second['id']}" in text
    assert second["ticket_type_name"]
    assert f"Ticket type {second['ticket_type_name']}" in " ".join(text.split())
    assert pdf_qr_codes(response.content) == [second["code"]]
    # Western European text only: the reader's own Helvetica, nothing embedded
    assert pdf_fonts(response.content) == {"Helvetica": False, "Helvetica-Bold": False, "Courier": False}

    mine = await client.get(f"/tickets/{first['id']}/ticket.pdf", headers=admin.headers)
    assert mine.status_code == 200
    assert "Ada Lovelace" in pdf_pages_text(mine.content)[0]
    assert pdf_qr_codes(mine.content) == [first["code"]]


async def test_only_the_owner_or_an_admin_gets_the_pdf(client, db, parties) -> None:
    staff, owner, stranger, ticket = parties.staff, parties.owner, parties.stranger, parties.ticket
    url = f"/tickets/{ticket['id']}/ticket.pdf"
    # Door staff who scanned the ticket may read it, but not print it.
    assert (
        await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    ).status_code == 200
    assert (await client.get(f"/tickets/{ticket['id']}", headers=staff.headers)).status_code == 200
    assert (await client.get(url, headers=staff.headers)).status_code == 404
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (await client.get("/tickets/987654/ticket.pdf", headers=owner.headers)).status_code == 404
    assert (await client.get("/tickets/0/ticket.pdf", headers=owner.headers)).status_code == 400


async def test_long_titles_and_names_wrap_and_the_code_still_scans(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Ω" * 3 + " Zoë " + "日本語")
    event = await make_event(client, admin, title="A" * 60 + " " + "very long title " * 8, venue="V" * 200)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    response = await client.get(f"/tickets/{ticket['id']}/ticket.pdf", headers=holder.headers)
    assert response.status_code == 200
    (text,) = pdf_pages_text(response.content)
    assert "Zoë" in text
    assert "very long title" in text
    assert pdf_qr_codes(response.content) == [ticket["code"]]


async def test_printable_ticket_is_in_the_readers_language(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    assert (await client.patch("/me", json={"locale": "es"}, headers=holder.headers)).status_code == 200
    event = await make_event(client, admin, title="Zarzuela", timezone="Europe/Madrid")
    (ticket,) = (await buy(client, holder, event["id"])).json()["tickets"]

    spanish = " ".join(
        pdf_pages_text(
            (await client.get(f"/tickets/{ticket['id']}/ticket.pdf", headers=holder.headers)).content
        )[0].split()
    )
    english = " ".join(
        pdf_pages_text(
            (await client.get(f"/tickets/{ticket['id']}/ticket.pdf", headers=admin.headers)).content
        )[0].split()
    )

    assert "ENTRADA" in spanish
    assert " de 20" in spanish  # "sábado, 14 de marzo de 2026"
    assert "ADMISSION TICKET" not in spanish
    assert "ADMISSION TICKET" in english  # an admin reads it in the admin's own language
    assert "Entrada general" in spanish  # the type every event made with one price gets
    assert "General admission" not in spanish
    assert "General admission" in english


async def test_names_in_other_scripts_are_printed_as_written(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Łukasz Żółć")
    event = await make_event(client, admin, title="Концерт · Συναυλία · Koncert", venue="Sala Kongresowa")
    first, second = (await buy(client, holder, event["id"], quantity=2)).json()["tickets"]
    named = "Дмитрий Ελένη Nguyễn 東京"
    patched = await client.patch(
        f"/tickets/{second['id']}", json={"attendee_name": named}, headers=holder.headers
    )
    assert patched.status_code == 200

    own = (await client.get(f"/tickets/{first['id']}/ticket.pdf", headers=holder.headers)).content
    (text,) = pdf_pages_text(own)
    assert "Łukasz Żółć" in text
    assert "Концерт · Συναυλία · Koncert" in text
    assert pdf_fonts(own) == {"DejaVuSansBook": True, "DejaVuSansBold": True}
    assert PdfReader(io.BytesIO(own)).metadata.title == "Tickets for Концерт · Συναυλία · Koncert"
    assert pdf_qr_codes(own) == [first["code"]]

    given = (await client.get(f"/tickets/{second['id']}/ticket.pdf", headers=holder.headers)).content
    (text,) = pdf_pages_text(given)
    assert "Дмитрий Ελένη Nguyễn ??" in text  # no glyphs for Chinese or Japanese: marked, not dropped
    assert pdf_qr_codes(given) == [second["code"]]


async def test_a_cancelled_ticket_prints_no_code(client, db, parties) -> None:
    """Its QR code or a printed copy would look valid to whoever holds it: the door refuses it."""
    owner, admin, ticket = parties.owner, parties.admin, parties.ticket
    cancelled = await client.post(f"/tickets/{ticket['id']}/cancel", headers=owner.headers)
    assert cancelled.status_code == 200

    for viewer in (owner, admin):
        for document in ("ticket.pdf", "qr.png", "qr.svg"):
            answer = await client.get(f"/tickets/{ticket['id']}/{document}", headers=viewer.headers)
            assert answer.status_code == 409, (document, answer.text)
            assert answer.json()["detail"] == "this ticket was cancelled: it admits no one"
            assert ticket["code"].encode() not in answer.content
    # the resource still says what happened to it
    shown = await client.get(f"/tickets/{ticket['id']}", headers=owner.headers)
    assert (shown.json()["status"], shown.json()["code"]) == ("cancelled", ticket["code"])
