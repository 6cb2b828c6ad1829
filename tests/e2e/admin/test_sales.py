"""Ticket types and vouchers in the back office: through their services, a type with sales is
never deleted, bad input changes nothing, the vouchers' CSV is the API's."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.integration.events.test_cancelled_event import cancelled_event, snapshot
from tests.support.api import buy, make_actor, make_event
from tests.support.back_office import log_in
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.vouchers import Voucher


async def rows(db, model, **where: Any) -> list[Any]:
    async with db() as session:
        query = select(model).filter_by(**where).order_by(model.id)
        return list((await session.scalars(query)).all())


@pytest.fixture
def zone() -> str:
    """The venue's time zone of the `sale` event (a test may parametrize it)."""
    return "Europe/Madrid"


@pytest.fixture
async def sale(client, db, admin, zone) -> dict[str, Any]:
    """A free event (100 seats) in Madrid with two tickets sold, and the back office signed in."""
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=100, price_cents=0, timezone=zone)
    assert (await buy(client, buyer, event["id"], quantity=2)).status_code == 201
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    [general] = await rows(db, TicketType, event_id=event["id"])
    return {"event": event, "general": general, "buyer": buyer, "admin": admin}


MADRID = "Europe/Madrid"


def type_form(**overrides: Any) -> dict[str, str]:
    form = {"name": "VIP", "price_cents": "5000", "tax_rate": "21", "capacity": "10", "active": "y"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


async def test_types_are_managed_through_the_service(client, db, sale) -> None:
    event_id = sale["event"]["id"]
    page = await client.get(f"/admin/sales/events/{event_id}")
    assert page.status_code == 200
    general = re.search(rf'<tr data-type-id="{sale["general"].id}">(.*?)</tr>', page.text, re.DOTALL)[1]
    assert 'data-figure="sold">2<' in general
    assert 'data-figure="available">98<' in general
    assert f'data-delete="{sale["general"].id}"' not in page.text  # sold: no delete button

    close = (dt.datetime.fromisoformat(sale["event"]["starts_at"]) - dt.timedelta(days=1)).replace(
        second=0, microsecond=0
    )
    local_close = close.astimezone(ZoneInfo("Europe/Madrid")).strftime("%Y-%m-%dT%H:%M")
    added = await client.post(
        f"/admin/sales/events/{event_id}/ticket-types",
        data=type_form(hidden="y", sales_end_at=local_close),
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    vip = (await rows(db, TicketType, event_id=event_id, name="VIP"))[0]
    assert (vip.price_cents, vip.tax_rate_bp, vip.capacity, vip.hidden, vip.active) == (
        5000,
        2100,
        10,
        True,
        True,
    )
    assert vip.sales_end_at == close  # entered in the venue's time
    assert vip.position == 1

    form = await client.get(f"/admin/sales/ticket-types/{vip.id}")
    assert f'value="{local_close}:00"' in form.text
    saved = await client.post(
        f"/admin/sales/ticket-types/{vip.id}",
        data=type_form(name="VIP lounge", price_cents="6000", capacity="", position="1"),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    [vip] = await rows(db, TicketType, id=vip.id)
    assert (vip.name, vip.price_cents, vip.capacity, vip.hidden, vip.sales_end_at) == (
        "VIP lounge",
        6000,
        None,  # an empty capacity: no cap of its own, as `capacity: null` in the API
        False,
        None,
    )

    assert (
        await client.post(f"/admin/sales/ticket-types/{vip.id}/delete", follow_redirects=False)
    ).status_code == 303
    assert await rows(db, TicketType, id=vip.id) == []


async def test_a_type_with_sales_is_deactivated_never_deleted(client, db, sale) -> None:
    general = sale["general"]
    refused = await client.post(f"/admin/sales/ticket-types/{general.id}/delete")
    assert refused.status_code == 409
    assert "deactivate it instead" in refused.text
    assert len(await rows(db, TicketType, id=general.id)) == 1

    off = await client.post(f"/admin/sales/ticket-types/{general.id}/deactivate", follow_redirects=False)
    assert off.status_code == 303
    [general] = await rows(db, TicketType, id=general.id)
    assert general.active is False
    page = await client.get(f"/admin/sales/events/{sale['event']['id']}")
    assert 'data-state="inactive"' in page.text


async def test_a_type_a_gate_names_is_not_deleted(client, db, sale) -> None:
    """A gate admitting only this type would be left naming nothing: refused, naming the gate."""
    admin, event_id = sale["admin"], sale["event"]["id"]
    created = await client.post(
        f"/events/{event_id}/ticket-types", json={"name": "VIP", "price_cents": 0}, headers=admin.headers
    )
    vip = created.json()["id"]
    gate = await client.post(
        f"/events/{event_id}/gates",
        json={"name": "VIP door", "ticket_type_ids": [vip]},
        headers=admin.headers,
    )
    assert gate.status_code == 201, gate.text

    refused = await client.post(f"/admin/sales/ticket-types/{vip}/delete")

    assert refused.status_code == 409
    assert "gate VIP door" in refused.text
    assert len(await rows(db, TicketType, id=vip)) == 1


@pytest.mark.parametrize(
    ("form", "status", "zone"),
    [
        (type_form(name=""), 400, MADRID),
        (type_form(name="x" * 121), 400, MADRID),
        (type_form(price_cents="-1"), 400, MADRID),
        (type_form(tax_rate="101"), 400, MADRID),
        (type_form(capacity="abc"), 400, MADRID),
        (type_form(capacity="101"), 422, MADRID),  # above the event's capacity: the service's rule
        (type_form(sales_start_at="2030-01-02T10:00", sales_end_at="2030-01-01T10:00"), 422, MADRID),
        (type_form(sales_start_at="not a time"), 400, MADRID),
        (type_form(sales_start_at="0001-01-01T00:00"), 422, "Asia/Tokyo"),  # before year 1 in UTC
        (type_form(sales_end_at="9999-12-31T23:00"), 422, "America/New_York"),  # after 9999
    ],
)
async def test_bad_types_change_nothing(client, db, sale, form, status) -> None:
    event_id = sale["event"]["id"]
    general = sale["general"]
    response = await client.post(f"/admin/sales/events/{event_id}/ticket-types", data=form)
    assert response.status_code == status, response.text
    assert 'id="form-error"' in response.text
    edited = await client.post(f"/admin/sales/ticket-types/{general.id}", data=form)
    assert edited.status_code == status, edited.text
    assert 'id="form-error"' in edited.text
    [after] = await rows(db, TicketType, event_id=event_id)
    assert (after.id, after.name, after.capacity, after.sales_start_at, after.sales_end_at) == (
        general.id,
        general.name,
        general.capacity,
        general.sales_start_at,
        general.sales_end_at,
    )


async def test_capacity_below_sold_is_refused(client, db, sale) -> None:
    general = sale["general"]
    response = await client.post(
        f"/admin/sales/ticket-types/{general.id}", data=type_form(name=general.name, capacity="1")
    )
    assert response.status_code == 409
    [after] = await rows(db, TicketType, id=general.id)
    assert (after.capacity, after.name) == (general.capacity, general.name)


def voucher_form(**overrides: Any) -> dict[str, str]:
    form = {"code": "EARLY-1", "kind": "percent", "value": "20", "max_uses": "5"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


async def test_vouchers_one_and_bulk_and_the_csv(client, db, sale) -> None:
    event_id = sale["event"]["id"]
    general = sale["general"]
    one = await client.post(
        f"/admin/sales/events/{event_id}/vouchers",
        data=voucher_form(ticket_type_ids=str(general.id), valid_until="2030-01-01T00:00"),
        follow_redirects=False,
    )
    assert one.status_code == 303, one.text
    bulk = await client.post(
        f"/admin/sales/events/{event_id}/vouchers",
        data=voucher_form(code="", count="5", kind="amount", value="500", max_uses=""),
        follow_redirects=False,
    )
    assert bulk.status_code == 303, bulk.text
    vouchers = await rows(db, Voucher, event_id=event_id)
    assert len(vouchers) == 6
    early = vouchers[0]
    assert (early.code, early.kind, early.value, early.max_uses) == ("EARLY-1", "percent", 20, 5)
    assert early.valid_until.isoformat() == "2029-12-31T23:00:00+00:00"
    assert {(v.kind, v.value, v.max_uses) for v in vouchers[1:]} == {("amount", 500, None)}
    assert all(re.fullmatch(r"[A-Z2-9]{10}", v.code) for v in vouchers[1:])

    page = await client.get(f"/admin/sales/events/{event_id}")
    assert all(v.code in page.text for v in vouchers)
    exported = await client.get(f"/admin/sales/events/{event_id}/vouchers.csv")
    from_api = await client.get(f"/events/{event_id}/vouchers?format=csv", headers=sale["admin"].headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text == from_api.text
    assert exported.text.count("\r\n") == 7

    edited = await client.post(
        f"/admin/sales/vouchers/{early.id}",
        data={"kind": "fixed_price", "value": "1000", "max_uses": "2", "unlocks_hidden": "y"},
        follow_redirects=False,
    )
    assert edited.status_code == 303, edited.text
    [early] = await rows(db, Voucher, id=early.id)
    assert (early.code, early.kind, early.value, early.max_uses, early.unlocks_hidden) == (
        "EARLY-1",
        "fixed_price",
        1000,
        2,
        True,
    )
    deleted = await client.post(f"/admin/sales/vouchers/{early.id}/delete", follow_redirects=False)
    assert deleted.status_code == 303
    assert await rows(db, Voucher, id=early.id) == []


@pytest.mark.parametrize(
    ("form", "status", "zone"),
    [
        (voucher_form(code="", count=None), 422, MADRID),  # neither a code nor a count
        (voucher_form(count="3"), 422, MADRID),  # both
        (voucher_form(value="150"), 422, MADRID),  # more than 100 %
        (voucher_form(code="no spaces"), 400, MADRID),
        (voucher_form(kind="gift"), 400, MADRID),
        (voucher_form(count="1001", code=""), 400, MADRID),
        (voucher_form(ticket_type_ids="999999"), 400, MADRID),
        (voucher_form(valid_from="2030-01-02T00:00", valid_until="2030-01-01T00:00"), 422, MADRID),
        (voucher_form(valid_from="0001-01-01T00:00"), 422, "Asia/Tokyo"),  # before year 1 in UTC
        (voucher_form(valid_until="9999-12-31T23:00"), 422, "America/New_York"),  # after 9999
    ],
)
async def test_bad_vouchers_change_nothing(client, db, sale, form, status) -> None:
    response = await client.post(f"/admin/sales/events/{sale['event']['id']}/vouchers", data=form)
    assert response.status_code == status, response.text
    assert 'id="form-error"' in response.text
    assert await rows(db, Voucher) == []


@pytest.mark.parametrize(
    ("changes", "zone"),
    [
        ({"valid_from": "0001-01-01T00:00"}, "Asia/Tokyo"),
        ({"valid_until": "9999-12-31T23:00"}, "America/New_York"),
    ],
)
async def test_a_voucher_edit_to_a_date_without_utc_changes_nothing(client, db, sale, changes) -> None:
    path = f"/admin/sales/events/{sale['event']['id']}/vouchers"
    assert (await client.post(path, data=voucher_form(), follow_redirects=False)).status_code == 303
    [voucher] = await rows(db, Voucher)
    response = await client.post(f"/admin/sales/vouchers/{voucher.id}", data=voucher_form(**changes))
    assert response.status_code == 422, response.text
    assert 'id="form-error"' in response.text
    [after] = await rows(db, Voucher)
    assert (after.valid_from, after.valid_until, after.updated_at) == (None, None, voucher.updated_at)


async def test_a_taken_code_and_a_redeemed_voucher_are_refused(client, db, sale) -> None:
    event_id = sale["event"]["id"]
    path = f"/admin/sales/events/{event_id}/vouchers"
    assert (await client.post(path, data=voucher_form(), follow_redirects=False)).status_code == 303
    assert (await client.post(path, data=voucher_form())).status_code == 409
    [voucher] = await rows(db, Voucher)
    bought = await client.post(
        f"/events/{event_id}/tickets",
        json={"items": [{"ticket_type_id": sale["general"].id, "quantity": 1}], "voucher_code": "EARLY-1"},
        headers=sale["buyer"].headers,
    )
    assert bought.status_code == 201, bought.text
    refused = await client.post(f"/admin/sales/vouchers/{voucher.id}/delete")
    assert refused.status_code == 409
    below = await client.post(f"/admin/sales/vouchers/{voucher.id}", data=voucher_form(max_uses="0"))
    assert below.status_code == 400
    [after] = await rows(db, Voucher)
    assert (after.uses, after.max_uses) == (1, 5)


async def test_forms_from_elsewhere_change_nothing(client, db, sale) -> None:
    event_id = sale["event"]["id"]
    general = sale["general"]
    foreign = {"Origin": "https://evil.example"}
    for path, form in [
        (f"/admin/sales/events/{event_id}/ticket-types", type_form()),
        (f"/admin/sales/ticket-types/{general.id}", type_form(name="Evil")),
        (f"/admin/sales/ticket-types/{general.id}/deactivate", {}),
        (f"/admin/sales/events/{event_id}/vouchers", voucher_form()),
    ]:
        assert (await client.post(path, data=form, headers=foreign)).status_code == 403
    assert [(t.name, t.active) for t in await rows(db, TicketType)] == [(general.name, True)]
    assert await rows(db, Voucher) == []


@pytest.mark.parametrize(
    "path",
    [
        "/admin/sales/events/999999",
        "/admin/sales/ticket-types/999999",
        "/admin/sales/vouchers/999999",
        "/admin/sales/events/999999/vouchers.csv",
        "/admin/sales/events/0",
    ],
)
async def test_unknown_ids_are_404(client, sale, path) -> None:
    assert (await client.get(path)).status_code == 404


async def test_a_cancelled_event_offers_no_change_and_refuses_one(client, db) -> None:
    """Its pages show no edit action; a form posted anyway is refused (409) and changes nothing."""
    sale = await cancelled_event(client, db)
    before = await snapshot(db, sale.event_id)
    assert (await log_in(client, sale.admin.email, sale.admin.password)).status_code == 302
    event_id = sale.event_id

    sales_page = (await client.get(f"/admin/sales/events/{event_id}")).text
    door_page = (await client.get(f"/admin/door/events/{event_id}")).text
    assert 'id="event-cancelled"' in sales_page
    assert 'id="event-cancelled"' in door_page
    for hidden in (
        "/admin/sales/ticket-types/",
        "/admin/sales/vouchers/",
        'id="voucher-form"',
        'id="type-form"',
    ):
        assert hidden not in sales_page, hidden
    assert "/admin/door/gates/" not in door_page
    for path in (
        f"/admin/sales/ticket-types/{sale.general_id}",
        f"/admin/sales/vouchers/{sale.voucher_id}",
        f"/admin/door/gates/{sale.gate_id}",
    ):
        form_page = await client.get(path)
        assert form_page.status_code == 200, path
        assert 'id="event-cancelled"' in form_page.text, path
        assert 'method="post"' not in form_page.text.split("</main>")[0].split('id="event-cancelled"')[1], (
            path
        )

    attempts = [
        (f"/admin/sales/ticket-types/{sale.general_id}", type_form(name="General", price_cents="100")),
        (f"/admin/sales/ticket-types/{sale.vip_id}/deactivate", {}),
        (f"/admin/sales/ticket-types/{sale.vip_id}/delete", {}),
        (f"/admin/sales/events/{event_id}/ticket-types", type_form(name="Late")),
        (f"/admin/sales/events/{event_id}/vouchers", voucher_form(code="LATE")),
        (f"/admin/sales/vouchers/{sale.voucher_id}", voucher_form(value="50")),
        (f"/admin/sales/vouchers/{sale.voucher_id}/delete", {}),
        (f"/admin/door/events/{event_id}/gates", {"name": "South"}),
        (f"/admin/door/gates/{sale.gate_id}", {"name": "East"}),
    ]
    for path, form in attempts:
        response = await client.post(path, data=form, follow_redirects=False)
        assert response.status_code == 409, (path, response.text)
        assert "a cancelled event cannot be changed" in response.text, path
    assert await snapshot(db, event_id) == before
