"""A Spanish-speaking holder's ticket e-mail is written in Spanish, dates and money included."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tests.integration.payments.flow import buy_pending, pay_order, priced_event
from tests.support.api import make_actor
from tests.support.documents import pdf_pages_text
from tests.support.factories import in_days
from tests.support.mail import attachments, body, subject, worker_pass

MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]
WEEKDAYS = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]


async def test_ticket_email_follows_the_holders_language(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Ada Lovelace")
    assert (await client.patch("/me", json={"locale": "es"}, headers=holder.headers)).status_code == 200
    starts_at = in_days(20).replace(hour=18, minute=30, second=0, microsecond=0)
    event = await priced_event(
        client,
        admin,
        title="Noche de flamenco",
        price_cents=150_000,
        starts_at=starts_at,
        timezone="Europe/Madrid",
    )
    purchase = await buy_pending(client, holder, event["id"], quantity=2)
    await pay_order(client, purchase)

    assert (await worker_pass(worker)).sent == 1
    (received,) = smtp_server.messages
    message = received.parsed()
    assert subject(message) == "[Ticket-Flow] Tus 2 entradas para Noche de flamenco"
    local = starts_at.astimezone(ZoneInfo("Europe/Madrid"))
    spanish_date = f"{WEEKDAYS[local.weekday()]}, {local.day} de {MONTHS[local.month - 1]} de {local.year}"
    for part in ("plain", "html"):
        text = body(message, part)
        assert "Hola, Ada Lovelace:" in text
        assert "Gracias por tu pedido. Aquí tienes tus 2 entradas." in text
        assert f"{spanish_date}, {local:%H:%M}" in text
        assert "3.000,00 EUR" in text  # the order's total, written the Spanish way
        assert "Thank you" not in text
        assert "Entrada general" in text  # the default type's name too
        assert "General admission" not in text
    assert '<html lang="es">' in body(message, "html")

    (pdf,) = attachments(message, "application/pdf")
    first_page = " ".join(pdf_pages_text(pdf.get_payload(decode=True))[0].split())
    assert "ENTRADA" in first_page
    assert "Asistente" in first_page
    assert f"{spanish_date}, {local:%H:%M}" in first_page
    assert "Muestra esta página en el acceso" in first_page
    assert "ADMISSION TICKET" not in first_page
