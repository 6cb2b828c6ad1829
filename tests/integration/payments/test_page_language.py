"""The checkout and landing pages speak the browser's language (`Accept-Language`)."""

from __future__ import annotations

from tests.integration.payments.flow import buy_pending, local_url, press_cancel, priced_event
from tests.integration.payments.flow import open_checkout as open_english_checkout

SPANISH_FIRST = "fr-CH, fr;q=0.9, es;q=0.8, en;q=0.5"
"""French is not offered: the next language the browser accepts is Spanish."""


async def test_checkout_page_follows_accept_language(client, admin, attendee) -> None:
    event = await priced_event(client, admin, price_cents=150_000, timezone="Europe/Madrid")
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    url = local_url(purchase["payment"]["checkout_url"])

    spanish = await client.get(url, headers={"Accept-Language": SPANISH_FIRST})
    assert spanish.status_code == 200
    assert spanish.headers["content-language"] == "es"
    assert "Accept-Language" in spanish.headers["vary"]
    assert '<html lang="es">' in spanish.text
    assert "Paga tus entradas" in spanish.text
    assert "Pagar 3.000,00 EUR" in spanish.text
    assert "pendiente de pago" in spanish.text
    assert " de 20" in spanish.text  # a Spanish date: "sábado, 14 de marzo de 2026"

    english = await client.get(url, headers={"Accept-Language": "es;q=0, en-GB"})
    assert english.headers["content-language"] == "en"
    assert "Pay 3,000.00 EUR" in english.text
    assert "Paga tus entradas" not in english.text

    page = await open_english_checkout(client, purchase)
    cancelled = await press_cancel(client, page)
    landing = await client.get(cancelled.headers["location"], headers={"Accept-Language": "es-ES"})
    assert "Pedido cancelado: no se ha cobrado nada" in landing.text
