"""The back office speaks the signed-in admin's language; its login page the browser's."""

from __future__ import annotations

import html

from tests.support.api import make_actor, make_event
from tests.support.back_office import log_in

SPANISH = {"Accept-Language": "es-ES,es;q=0.9"}


async def test_login_page_follows_the_browser(client) -> None:
    spanish = await client.get("/admin/login", headers=SPANISH)
    assert "Contraseña" in spanish.text
    assert "el personal de puerta solo en el mostrador de puerta" in html.unescape(spanish.text)
    assert '<html lang="es">' in spanish.text
    english = await client.get("/admin/login", headers={"Accept-Language": "de, en;q=0.5"})
    assert "Password" in english.text
    assert "Contraseña" not in english.text
    assert "for door staff at the door desk only" in english.text  # as the refusal and the docs say


async def test_a_wrong_password_is_told_in_the_browsers_language(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    client.headers["Accept-Language"] = "es-ES,es;q=0.9"
    spanish = await log_in(client, admin.email, "wrong-password")
    assert spanish.status_code == 400
    assert "Credenciales no válidas." in html.unescape(spanish.text)
    client.headers["Accept-Language"] = "en"
    assert "Invalid credentials." in (await log_in(client, admin.email, "wrong-password")).text


async def test_back_office_follows_the_admins_locale(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    await make_event(client, admin, title="Zarzuela", capacity=8, price_cents=150_000)
    assert (await client.patch("/me", json={"locale": "es"}, headers=admin.headers)).status_code == 200
    assert (await log_in(client, admin.email, admin.password)).status_code == 302

    # the admin's choice wins over the browser's
    dashboard = await client.get("/admin/dashboard", headers={"Accept-Language": "en"})
    assert dashboard.status_code == 200
    assert "Entradas vendidas por día" in dashboard.text
    assert 'de <span data-total="capacity">8</span> plazas' in dashboard.text
    assert "0,0 %" in dashboard.text  # the check-in rate, written the Spanish way
    assert "Tickets sold per day" not in dashboard.text
    assert '<html lang="es">' in dashboard.text  # screen readers read it as Spanish

    users = await client.get("/admin/user/list", headers={"Accept-Language": "en"})
    assert users.status_code == 200
    assert ">Usuarios<" in users.text  # the view's title
    assert "Nombre" in users.text  # a column label
    events = await client.get("/admin/event/list")
    assert "1.500,00 EUR" in events.text  # a price in a record list

    form = await client.get("/admin/event/create")
    assert form.status_code == 200
    assert "Zona horaria del lugar" in form.text  # a form field's label

    assert (await client.patch("/me", json={"locale": "en"}, headers=admin.headers)).status_code == 200
    assert (await log_in(client, admin.email, admin.password)).status_code == 302  # the account changed
    english = await client.get("/admin/dashboard", headers=SPANISH)
    assert "Tickets sold per day" in english.text
    assert '<html lang="en">' in english.text
    assert "Entradas vendidas por día" not in english.text


async def test_a_page_refusal_is_told_in_the_admins_language(client, db) -> None:
    """A hand-edited address: our pages' refusals and SQLAdmin's own error page, in Spanish."""
    admin = await make_actor(client, db, role="admin")
    assert (await client.patch("/me", json={"locale": "es"}, headers=admin.headers)).status_code == 200
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    refusals = {
        "/admin/door/scans?page=zero": (400, "page: no es un número de página"),
        "/admin/door/duplicates?event_id=abc": (400, "event_id: no es un identificador"),
        "/admin/dashboard/events/424242": (404, "evento no encontrado"),
        "/admin/user/details/424242": (404, "No encontrado"),
        "/admin/user/list?page=x": (400, "Parámetro page o pageSize no válido"),  # SQLAdmin's own
    }
    for path, (status, text) in refusals.items():
        response = await client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == status, path
        assert f'id="error-message">{text}<' in html.unescape(response.text), path
