"""Vouchers through the API (admin): one or many, listed as JSON or CSV, changed, deleted."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from tests.support.api import make_actor, make_event
from ticketflow.db.models.vouchers import Voucher
from ticketflow.domain.events.vouchers import CODE_ALPHABET, RANDOM_CODE_LENGTH


async def test_one_voucher_with_types_and_a_window(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    (general,) = (await client.get(f"/events/{event['id']}/ticket-types")).json()

    response = await client.post(
        f"/events/{event['id']}/vouchers",
        json={
            "code": "Early-2031",
            "kind": "percent",
            "value": 25,
            "ticket_type_ids": [general["id"]],
            "max_uses": 3,
            "valid_until": "2030-01-01T00:00:00+00:00",
        },
        headers=admin.headers,
    )

    assert response.status_code == 201, response.text
    (voucher,) = response.json()
    assert voucher["code"] == "Early-2031"
    assert (voucher["kind"], voucher["value"], voucher["uses"], voucher["max_uses"]) == ("percent", 25, 0, 3)
    assert voucher["ticket_type_ids"] == [general["id"]]
    listed = (await client.get(f"/events/{event['id']}/vouchers", headers=admin.headers)).json()
    assert listed == [voucher]


async def test_bulk_codes_are_random_unambiguous_and_exported_as_csv(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)

    response = await client.post(
        f"/events/{event['id']}/vouchers",
        json={"count": 25, "kind": "amount", "value": 500, "max_uses": 1},
        headers=admin.headers,
    )

    assert response.status_code == 201, response.text
    codes = [v["code"] for v in response.json()]
    assert len(set(codes)) == 25
    assert all(len(c) == RANDOM_CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    exported = await client.get(f"/events/{event['id']}/vouchers?format=csv", headers=admin.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(row["code"] for row in rows) == sorted(codes)
    assert {row["value"] for row in rows} == {"500"}


async def test_codes_are_exact_and_unique_per_event(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    other = await make_event(client, admin)
    url = f"/events/{event['id']}/vouchers"
    body = {"code": "VIP-Pass", "kind": "fixed_price", "value": 0}

    first = await client.post(url, json=body, headers=admin.headers)
    again = await client.post(url, json=body, headers=admin.headers)
    other_case = await client.post(url, json=body | {"code": "vip-pass"}, headers=admin.headers)
    other_event = await client.post(f"/events/{other['id']}/vouchers", json=body, headers=admin.headers)

    assert (first.status_code, again.status_code) == (201, 409)
    assert other_case.status_code == 201  # codes compare byte for byte
    assert other_event.status_code == 201


async def test_change_and_delete_a_voucher(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    (created,) = (
        await client.post(
            f"/events/{event['id']}/vouchers", json={"code": "ZERO", "kind": "percent"}, headers=admin.headers
        )
    ).json()

    changed = await client.patch(
        f"/vouchers/{created['id']}", json={"unlocks_hidden": True, "max_uses": 10}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["unlocks_hidden"], changed.json()["max_uses"], changed.json()["value"]) == (
        True,
        10,
        0,
    )

    assert (await client.delete(f"/vouchers/{created['id']}", headers=admin.headers)).status_code == 204
    assert (await client.delete(f"/vouchers/{created['id']}", headers=admin.headers)).status_code == 404


async def test_bad_voucher_input_changes_nothing(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    attendee = await make_actor(client, db)
    event = await make_event(client, admin)
    other = await make_event(client, admin)
    (foreign_type,) = (await client.get(f"/events/{other['id']}/ticket-types")).json()
    url = f"/events/{event['id']}/vouchers"
    bodies = [
        {"kind": "percent", "value": 10},  # neither code nor count
        {"code": "AB1", "count": 2, "kind": "percent"},  # both
        {"code": "AB1", "kind": "percent", "value": 101},
        {"code": "AB1", "kind": "bogus"},
        {"code": "a b", "kind": "amount"},
        {"code": "AB1", "kind": "amount", "value": -1},
        {"count": 1001, "kind": "amount"},
        {"code": "AB1", "kind": "amount", "ticket_type_ids": [foreign_type["id"]]},
        {
            "code": "AB1",
            "kind": "amount",
            "valid_from": "2031-01-02T00:00:00Z",
            "valid_until": "2031-01-01T00:00:00Z",
        },
        {"code": "AB1", "kind": "amount", "valid_until": "9999-12-31T23:00:00-05:00"},  # no UTC
        {"code": "AB1", "kind": "amount", "valid_from": "0001-01-01T00:00:00+09:00"},
    ]
    for body in bodies:
        response = await client.post(url, json=body, headers=admin.headers)
        assert response.status_code in (400, 422), (body, response.text)
    assert (
        await client.post(url, json={"code": "AB1", "kind": "percent"}, headers=attendee.headers)
    ).status_code == 403
    assert (await client.get(url, headers=attendee.headers)).status_code == 403
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Voucher)) == 0
