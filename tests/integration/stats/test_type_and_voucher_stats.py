"""Figures per ticket type and per voucher, in the stats API and the figures CSV, against a count
kept by hand: mixed orders with vouchers, paid, pending, free, refunded ticket by ticket, scanned,
and finally the event cancelled (every order refunded as a whole)."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.integration.payments.flow import pay_order
from tests.support.api import Actor, make_actor, make_event
from tests.support.back_office import log_in

TYPE_FIGURES = (
    "tickets_sold",
    "tickets_held",
    "tickets_available",
    "tickets_cancelled",
    "checked_in",
    "gross_cents",
    "refunded_cents",
    "revenue_cents",
)
VOUCHER_FIGURES = (
    "uses",
    "orders_paid",
    "tickets_sold",
    "tickets_held",
    "checked_in",
    "discount_cents",
    "gross_cents",
    "refunded_cents",
    "revenue_cents",
)


async def order(client, buyer: Actor, event_id: int, lines: dict[int, int], code: str | None = None) -> dict:
    body: dict[str, Any] = {"items": [{"ticket_type_id": t, "quantity": q} for t, q in lines.items()]}
    if code is not None:
        body["voucher_code"] = code
    response = await client.post(f"/events/{event_id}/tickets", json=body, headers=buyer.headers)
    assert response.status_code == 201, response.text
    purchase: dict[str, Any] = response.json()
    return purchase


def pick(rows: list[dict[str, Any]], key: str, names: tuple[str, ...]) -> dict[Any, tuple[Any, ...]]:
    return {row[key]: tuple(row[name] for name in names) for row in rows}


async def test_figures_per_type_and_per_voucher(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    alice, bob, carol, dave = [await make_actor(client, db) for _ in range(4)]
    event = await make_event(client, admin, capacity=20, price_cents=2000)
    event_id = event["id"]
    types_url = f"/events/{event_id}/ticket-types"
    (general,) = [t["id"] for t in (await client.get(types_url)).json()]
    vip = (
        await client.post(
            types_url, json={"name": "VIP", "price_cents": 5000, "capacity": 5}, headers=admin.headers
        )
    ).json()["id"]
    crew = (
        await client.post(types_url, json={"name": "Crew", "hidden": True}, headers=admin.headers)
    ).json()["id"]
    for voucher in (
        {"code": "VIP-OFF", "kind": "amount", "value": 1000, "max_uses": 2, "ticket_type_ids": [vip]},
        {"code": "CREW", "kind": "percent", "value": 0, "unlocks_hidden": True, "max_uses": 3},
    ):
        created = await client.post(f"/events/{event_id}/vouchers", json=voucher, headers=admin.headers)
        assert created.status_code == 201, created.text

    alices = await order(client, alice, event_id, {general: 2, vip: 2}, "VIP-OFF")  # 4000 + 2 x 4000
    await pay_order(client, alices)
    await order(client, bob, event_id, {vip: 1}, "VIP-OFF")  # 4000, left unpaid
    carols = await order(client, carol, event_id, {crew: 2}, "CREW")  # free
    daves = await order(client, dave, event_id, {general: 1})  # 2000, paid then cancelled
    await pay_order(client, daves)
    for buyer, ticket in (
        (dave, daves["tickets"][0]),
        (alice, next(t for t in alices["tickets"] if t["ticket_type_id"] == vip)),
    ):
        assert (
            await client.post(f"/tickets/{ticket['id']}/cancel", headers=buyer.headers)
        ).status_code == 200
    paid_ticket = await client.get(f"/tickets/{alices['tickets'][0]['id']}", headers=alice.headers)
    for ticket in (paid_ticket.json(), carols["tickets"][0]):  # a code is shown once paid
        scanned = await client.post(f"/tickets/{ticket['code']}/validate", json={}, headers=staff.headers)
        assert scanned.json()["result"] == "valid"

    stats = (await client.get(f"/events/{event_id}/stats", headers=admin.headers)).json()

    assert [t["name"] for t in stats["figures"]["ticket_types"]] == ["General admission", "VIP", "Crew"]
    assert pick(stats["figures"]["ticket_types"], "ticket_type_id", TYPE_FIGURES) == {
        general: (2, 0, 14, 1, 1, 6000, 2000, 4000),
        vip: (1, 1, 3, 1, 0, 8000, 4000, 4000),
        crew: (2, 0, 14, 0, 1, 0, 0, 0),
    }
    figures = stats["figures"]
    assert (figures["tickets_sold"], figures["tickets_held"], figures["revenue_cents"]) == (5, 1, 8000)
    assert pick(stats["vouchers"], "code", VOUCHER_FIGURES) == {
        "CREW": (1, 1, 2, 0, 1, 0, 0, 0, 0),
        "VIP-OFF": (2, 1, 3, 1, 1, 2000, 12000, 4000, 8000),  # every ticket of its orders
    }
    overview = (await client.get("/stats", headers=admin.headers)).json()
    (listed,) = overview["events"]
    assert listed["ticket_types"] == figures["ticket_types"]

    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    exported = await client.get(f"/admin/dashboard/events/{event_id}/figures.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["row"], r["name"], r["tickets_sold"], r["revenue_cents"]) for r in rows] == [
        ("ticket_type", "General admission", "2", "4000"),
        ("ticket_type", "VIP", "1", "4000"),
        ("ticket_type", "Crew", "2", "0"),
        ("voucher", "CREW", "2", "0"),
        ("voucher", "VIP-OFF", "3", "8000"),
    ]
    assert rows[4]["discount_cents"] == "2000"
    tickets = list(
        csv.DictReader(
            io.StringIO((await client.get(f"/admin/dashboard/events/{event_id}/tickets.csv")).text)
        )
    )
    assert {(r["ticket_type"], r["voucher_code"]) for r in tickets} == {
        ("General admission", "VIP-OFF"),
        ("VIP", "VIP-OFF"),
        ("Crew", "CREW"),
        ("General admission", ""),
    }

    # Cancelling the event refunds every paid order as a whole: each type gives all its money back.
    assert (await client.delete(f"/events/{event_id}", headers=admin.headers)).status_code == 204
    after = (await client.get(f"/events/{event_id}/stats", headers=admin.headers)).json()
    assert pick(
        after["figures"]["ticket_types"], "ticket_type_id", ("gross_cents", "refunded_cents", "revenue_cents")
    ) == {
        general: (6000, 6000, 0),
        vip: (8000, 8000, 0),
        crew: (0, 0, 0),
    }
    assert after["figures"]["revenue_cents"] == 0
