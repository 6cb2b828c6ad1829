"""Vouchers at the purchase: discounts on the lines, hidden types unlocked, uses taken and given back."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.api import make_actor, make_event
from ticketflow.db.models.vouchers import Voucher
from ticketflow.domain.tickets.controller import VOUCHER_GUESSES_PER_CLIENT


async def setup(client, admin, **voucher) -> tuple[dict, dict, dict, dict]:
    event = await make_event(client, admin, capacity=10, price_cents=2000)
    url = f"/events/{event['id']}/ticket-types"
    crew = (await client.post(url, json={"name": "Crew", "hidden": True}, headers=admin.headers)).json()
    (general,) = [t for t in (await client.get(url, headers=admin.headers)).json() if t["id"] != crew["id"]]
    body = {"code": "SAVE-25", "kind": "percent", "value": 25, "max_uses": 1} | voucher
    created = await client.post(f"/events/{event['id']}/vouchers", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    return event, general, crew, created.json()[0]


async def uses(db, voucher_id: int) -> int:
    async with db() as session:
        return int(await session.scalar(select(Voucher.uses).where(Voucher.id == voucher_id)) or 0)


async def test_a_voucher_discounts_the_line_and_is_used_once(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, general, _, voucher = await setup(client, admin)
    url = f"/events/{event['id']}/tickets"
    body = {"items": [{"ticket_type_id": general["id"], "quantity": 2}], "voucher_code": "SAVE-25"}

    bought = await client.post(url, json=body, headers=buyer.headers)

    assert bought.status_code == 201, bought.text
    order = bought.json()["order"]
    assert order["voucher_code"] == "SAVE-25"
    (line,) = order["lines"]
    assert (line["unit_price_cents"], line["discount_cents"], line["amount_cents"]) == (2000, 1000, 3000)
    assert order["amount_cents"] == 3000
    assert await uses(db, voucher["id"]) == 1
    again = await client.post(url, json={"quantity": 1, "voucher_code": "SAVE-25"}, headers=buyer.headers)
    assert again.status_code == 422
    assert again.json()["extra"]["reason"] == "voucher_used_up"

    cancelled = await client.post(f"/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await uses(db, voucher["id"]) == 0  # given back with the order


async def test_wrong_vouchers_say_why(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, general, crew, _ = await setup(client, admin, ticket_type_ids=[])
    url = f"/events/{event['id']}/vouchers"
    await client.post(
        url,
        json={"code": "OLD", "kind": "amount", "value": 100, "valid_until": "2020-01-01T00:00:00Z"},
        headers=admin.headers,
    )
    await client.post(
        url,
        json={"code": "CREW-ONLY", "kind": "percent", "value": 0, "ticket_type_ids": [crew["id"]]},
        headers=admin.headers,
    )
    buy_url = f"/events/{event['id']}/tickets"
    cases = {
        "NOPE": "unknown_voucher",
        "save-25": "unknown_voucher",  # codes compare exactly
        "SAVE 25": "unknown_voucher",  # no code has a space: unknown, as any other text
        "SAVE-25'; --": "unknown_voucher",
        "OLD": "voucher_expired",
        "CREW-ONLY": "voucher_not_applicable",
    }
    for code, reason in cases.items():
        body = {"items": [{"ticket_type_id": general["id"], "quantity": 1}], "voucher_code": code}
        response = await client.post(buy_url, json=body, headers=buyer.headers)
        assert response.status_code == 422, (code, response.text)
        assert response.json()["extra"]["reason"] == reason, code
    types = {
        t["id"]: t
        for t in (await client.get(f"/events/{event['id']}/ticket-types", headers=admin.headers)).json()
    }
    assert types[general["id"]]["sold"] == types[general["id"]]["held"] == 0


async def test_a_zero_percent_voucher_unlocks_a_hidden_type(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, _, crew, _ = await setup(client, admin)
    await client.post(
        f"/events/{event['id']}/vouchers",
        json={"code": "CREW", "kind": "percent", "value": 0, "unlocks_hidden": True, "max_uses": 5},
        headers=admin.headers,
    )
    url = f"/events/{event['id']}/tickets"
    body = {"items": [{"ticket_type_id": crew["id"], "quantity": 1}]}

    without = await client.post(url, json=body, headers=buyer.headers)
    with_code = await client.post(url, json=body | {"voucher_code": "CREW"}, headers=buyer.headers)

    assert without.status_code == 422
    assert with_code.status_code == 201, with_code.text
    assert [t["ticket_type_name"] for t in with_code.json()["tickets"]] == ["Crew"]
    assert with_code.json()["tickets"][0]["status"] == "active"


async def test_guessing_codes_is_limited_per_client(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, general, _, voucher = await setup(client, admin)
    url = f"/events/{event['id']}/tickets"
    item = {"items": [{"ticket_type_id": general["id"], "quantity": 1}]}

    guesses = [
        (
            await client.post(url, json=item | {"voucher_code": f"GUESS-{n}"}, headers=buyer.headers)
        ).status_code
        for n in range(VOUCHER_GUESSES_PER_CLIENT + 1)
    ]
    # Past the limit even the right code is refused from this client (another buyer, same address).
    right = await client.post(url, json=item | {"voucher_code": "SAVE-25"}, headers=admin.headers)

    assert guesses == [422] * VOUCHER_GUESSES_PER_CLIENT + [429]
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) > 0
    assert await uses(db, voucher["id"]) == 0
    assert (await client.post(url, json=item, headers=buyer.headers)).status_code == 201  # no code: no limit


async def test_a_right_code_or_none_is_not_counted_as_a_guess(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, general, _, voucher = await setup(client, admin, max_uses=VOUCHER_GUESSES_PER_CLIENT + 2)
    url = f"/events/{event['id']}/tickets"
    item = {"items": [{"ticket_type_id": general["id"], "quantity": 1}]}
    for _ in range(VOUCHER_GUESSES_PER_CLIENT - 1):
        assert (
            await client.post(url, json=item | {"voucher_code": "WRONG"}, headers=buyer.headers)
        ).status_code == 422
    for _ in range(3):
        bought = await client.post(url, json=item | {"voucher_code": "SAVE-25"}, headers=buyer.headers)
        assert bought.status_code == 201, bought.text

    last = await client.post(url, json=item | {"voucher_code": "WRONG"}, headers=buyer.headers)
    past = await client.post(url, json=item | {"voucher_code": "WRONG"}, headers=buyer.headers)

    assert (last.status_code, past.status_code) == (422, 429)
    assert await uses(db, voucher["id"]) == 3
