"""A service's refusal in the back office is shown in the admin's language; the API answers the
same refusal with its English `detail`, whatever the language of the account. SQLAdmin's own
buttons and lists speak the admin's language too."""

from __future__ import annotations

import html
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.api import buy, make_actor, make_event, second_type
from tests.support.back_office import event_edit_form, event_form, log_in
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import Gate
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.users import User
from ticketflow.db.models.vouchers import Voucher

ENGLISH = {
    "named": "this ticket type is still named by gate VIP door, voucher VIPONLY: take it off them first",
    "below_sold": "capacity cannot go below the tickets of this type already sold or held",
    "percentage": "a percentage cannot exceed 100",
    "not_an_admission": "only an admission can be undone",
    "required": "Name: This field is required.",
}
SPANISH = {
    "named": "este tipo de entrada aún figura en la puerta VIP door, el vale VIPONLY: quítalo de ahí primero",
    "below_sold": "el aforo no puede quedar por debajo de las entradas de este tipo ya vendidas o reservadas",
    "percentage": "un porcentaje no puede superar 100",
    "not_an_admission": "solo se puede deshacer una admisión",
    "required": "Nombre: Este campo es obligatorio.",
}


async def ids(db, model, **where: Any) -> list[int]:
    async with db() as session:
        return list(await session.scalars(select(model.id).filter_by(**where).order_by(model.id)))


def shown(page: str) -> str:
    return html.unescape(page)


@pytest.fixture
async def refusals(client, db, admin) -> dict[str, Any]:
    """A free event with two tickets sold, a VIP type named by a gate and a voucher, and one
    ticket admitted at the desk then scanned again (a refused scan)."""
    event = await make_event(client, admin, capacity=100, price_cents=0)
    event_id = event["id"]
    assert (await buy(client, await make_actor(client, db), event_id, quantity=2)).status_code == 201
    general, vip_id = await second_type(client, admin, event_id, name="VIP", price_cents=0)
    gate = await client.post(
        f"/events/{event_id}/gates",
        json={"name": "VIP door", "ticket_type_ids": [vip_id]},
        headers=admin.headers,
    )
    voucher = await client.post(
        f"/events/{event_id}/vouchers",
        json={"kind": "percent", "value": 10, "code": "VIPONLY", "ticket_type_ids": [vip_id]},
        headers=admin.headers,
    )
    assert (gate.status_code, voucher.status_code) == (201, 201), (gate.text, voucher.text)
    return {"event_id": event_id, "general": general, "vip": vip_id, "ticket": (await ids(db, Ticket))[0]}


async def in_language(client, admin, locale: str) -> None:
    """The admin's account speaks `locale`; the back office signed in (the browser asks otherwise)."""
    assert (await client.patch("/me", json={"locale": locale}, headers=admin.headers)).status_code == 200
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    client.headers["Accept-Language"] = "en" if locale == "es" else "es"


async def refused_scan(client, db, refusals: dict[str, Any]) -> int:
    """The ticket admitted at the desk, then scanned again: the refused scan's check-in id."""
    desk = {"event_id": str(refusals["event_id"]), "gate_id": ""}
    for _ in range(2):
        admit = await client.post(f"/admin/door/desk/tickets/{refusals['ticket']}/admit", data=desk)
        assert admit.status_code == 200, admit.text  # the desk page, after its redirect
    _admitted, refused = await ids(db, CheckIn)
    return refused


@pytest.mark.parametrize(("locale", "texts"), [("es", SPANISH), ("en", ENGLISH)])
async def test_refusals_speak_the_admins_language(client, db, admin, refusals, locale, texts) -> None:
    await in_language(client, admin, locale)
    event_id, vip, general = refusals["event_id"], refusals["vip"], refusals["general"]

    named = await client.post(f"/admin/sales/ticket-types/{vip}/delete")
    assert named.status_code == 409
    assert texts["named"] in shown(named.text)

    below = await client.post(
        f"/admin/sales/ticket-types/{general}", data={"name": "General", "capacity": "1", "active": "y"}
    )
    assert below.status_code == 409
    assert texts["below_sold"] in shown(below.text)

    percentage = await client.post(
        f"/admin/sales/events/{event_id}/vouchers",
        data={"code": "HALFPLUS", "kind": "percent", "value": "150"},
    )
    assert percentage.status_code == 422
    assert texts["percentage"] in shown(percentage.text)

    unnamed = await client.post(f"/admin/door/events/{event_id}/gates", data={"name": ""})
    assert unnamed.status_code == 400
    assert texts["required"] in shown(unnamed.text)  # the form's own check, WTForms' message

    not_an_admission = await client.post(
        f"/admin/door/check-ins/{await refused_scan(client, db, refusals)}/revert"
    )
    assert not_an_admission.status_code == 409
    assert texts["not_an_admission"] in shown(not_an_admission.text)

    other = SPANISH if texts is ENGLISH else ENGLISH
    assert not any(text in shown(page.text) for text in other.values() for page in (named, below, percentage))
    assert await ids(db, TicketType, event_id=event_id) == [general, vip]  # nothing changed
    async with db() as session:
        assert list(await session.scalars(select(Voucher.code))) == ["VIPONLY"]
        assert (await session.get(TicketType, general)).capacity == 100  # as created with the event
    assert len(await ids(db, CheckIn)) == 2
    assert len(await ids(db, Gate)) == 1


async def test_the_api_answers_in_english_for_a_spanish_admin(client, db, admin, refusals) -> None:
    await in_language(client, admin, "es")
    headers = admin.headers | {"Accept-Language": "es-ES,es;q=0.9"}
    event_id, vip, general = refusals["event_id"], refusals["vip"], refusals["general"]

    named = await client.delete(f"/ticket-types/{vip}", headers=headers)
    below = await client.patch(f"/ticket-types/{general}", json={"capacity": 1}, headers=headers)
    percentage = await client.post(
        f"/events/{event_id}/vouchers",
        json={"kind": "percent", "value": 150, "code": "HALF"},
        headers=headers,
    )
    not_an_admission = await client.post(
        f"/check-ins/{await refused_scan(client, db, refusals)}/revert", headers=headers
    )

    assert named.status_code == 409
    assert named.json()["detail"] == ENGLISH["named"]
    assert [gate["name"] for gate in named.json()["extra"]["gates"]] == ["VIP door"]
    assert [voucher["code"] for voucher in named.json()["extra"]["vouchers"]] == ["VIPONLY"]
    assert (below.status_code, below.json()["detail"]) == (409, ENGLISH["below_sold"])
    assert percentage.json() == {
        "status_code": 422,
        "detail": ENGLISH["percentage"],
        "extra": {"field": "value"},
    }
    assert not_an_admission.json() == {"status_code": 409, "detail": ENGLISH["not_an_admission"], "extra": {}}
    assert await ids(db, TicketType, event_id=event_id) == [general, vip]


async def test_sqladmin_pages_speak_spanish_and_its_buttons_still_work(client, db, admin) -> None:
    event = await make_event(client, admin, capacity=5, timezone="Europe/Paris")
    assert (await buy(client, await make_actor(client, db), event["id"], quantity=3)).status_code == 201
    await in_language(client, admin, "es")

    listed = shown((await client.get("/admin/event/list")).text)
    for text in ("Buscar", "Mostrando del 1 al 1 de 1 elementos", "Crear Evento", "Filtros"):
        assert text in listed
    assert "Showing" not in listed
    assert 'value="Guardar y seguir editando"' in (await client.get("/admin/event/create")).text

    create = "/admin/event/create"
    created = await client.post(create, data=event_form(save="Guardar"), follow_redirects=False)
    assert created.status_code == 302, created.text
    assert created.headers["location"].endswith("/admin/event/list")  # "Guardar" is SQLAdmin's "Save"
    form = event_form(title="Jazz II", save="Guardar y seguir editando")
    again = await client.post(create, data=form, follow_redirects=False)
    async with db() as session:
        jazz_ii = await session.scalar(select(Event.id).where(Event.title == "Jazz II"))
    assert again.headers["location"].endswith(f"/admin/event/edit/{jazz_ii}")

    below = event_edit_form(event, capacity="2", save="Guardar")
    refused = await client.post(f"/admin/event/edit/{event['id']}", data=below, follow_redirects=False)
    assert refused.status_code == 400
    assert "el aforo no puede quedar por debajo de las entradas ya vendidas" in shown(refused.text)
    async with db() as session:
        assert (await session.get(Event, event["id"])).capacity == 5

    user = {"name": "Ana", "email": "ana@", "password": "a-long-password", "role": "staff", "save": "Guardar"}
    bad_email = await client.post("/admin/user/create", data=user)
    assert bad_email.status_code == 400
    assert "email: no es un valor válido" in shown(bad_email.text)  # the API schema's check, translated
    async with db() as session:
        assert await session.scalar(select(User.id).where(User.name == "Ana")) is None
