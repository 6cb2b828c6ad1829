"""A ticket type named by gates or vouchers: its deletion is refused until they let go of it.

Deleting it would leave a gate or voucher naming nothing, and a list emptied that way reads
"every type": a VIP-only door or discount would silently widen to the whole event.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.support.api import make_actor, make_event, second_type
from ticketflow.db.models.gates import Gate
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.vouchers import Voucher, voucher_ticket_types


async def named_by(db, type_id: int) -> tuple[list[list[int]], list[int]]:
    """(every gate's ticket_type_ids, the voucher ids linked to `type_id`) as stored."""
    async with db() as session:
        gates = [list(g.ticket_type_ids) for g in await session.scalars(select(Gate).order_by(Gate.id))]
        vouchers = list(
            await session.scalars(
                select(voucher_ticket_types.c.voucher_id).where(
                    voucher_ticket_types.c.ticket_type_id == type_id
                )
            )
        )
    return gates, vouchers


async def test_a_type_named_by_a_gate_or_voucher_is_not_deleted(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, capacity=100)
    general, vip = await second_type(client, admin, event["id"], name="VIP", price_cents=9000)
    gate = await client.post(
        f"/events/{event['id']}/gates",
        json={"name": "VIP door", "ticket_type_ids": [vip]},
        headers=admin.headers,
    )
    (voucher,) = (
        await client.post(
            f"/events/{event['id']}/vouchers",
            json={"code": "VIPONLY", "kind": "percent", "value": 50, "ticket_type_ids": [vip]},
            headers=admin.headers,
        )
    ).json()
    assert gate.status_code == 201, gate.text

    refused = await client.delete(f"/ticket-types/{vip}", headers=admin.headers)

    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert "VIP door" in body["detail"]
    assert "VIPONLY" in body["detail"]
    assert body["extra"] == {
        "gates": [{"id": gate.json()["id"], "name": "VIP door"}],
        "vouchers": [{"id": voucher["id"], "code": "VIPONLY"}],
    }
    assert await named_by(db, vip) == ([[vip]], [voucher["id"]])
    async with db() as session:
        assert await session.get(TicketType, vip) is not None

    # Taken off the gate, still on the voucher: still refused, naming only the voucher.
    moved = await client.patch(
        f"/gates/{gate.json()['id']}", json={"ticket_type_ids": [general]}, headers=admin.headers
    )
    assert moved.status_code == 200, moved.text
    refused = await client.delete(f"/ticket-types/{vip}", headers=admin.headers)
    assert refused.status_code == 409
    assert refused.json()["extra"] == {"gates": [], "vouchers": [{"id": voucher["id"], "code": "VIPONLY"}]}

    moved = await client.patch(
        f"/vouchers/{voucher['id']}", json={"ticket_type_ids": [general]}, headers=admin.headers
    )
    assert moved.status_code == 200, moved.text
    deleted = await client.delete(f"/ticket-types/{vip}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    assert await named_by(db, general) == ([[general]], [voucher["id"]])


async def test_a_type_of_another_event_or_unknown_is_refused_on_patch(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    other = await make_event(client, admin, title="Elsewhere")
    (own,) = [t["id"] for t in (await client.get(f"/events/{event['id']}/ticket-types")).json()]
    (foreign,) = [t["id"] for t in (await client.get(f"/events/{other['id']}/ticket-types")).json()]
    (voucher,) = (
        await client.post(
            f"/events/{event['id']}/vouchers",
            json={"code": "ONE", "kind": "amount", "value": 100, "ticket_type_ids": [own], "max_uses": 3},
            headers=admin.headers,
        )
    ).json()
    gate = (
        await client.post(
            f"/events/{event['id']}/gates",
            json={"name": "Main", "ticket_type_ids": [own]},
            headers=admin.headers,
        )
    ).json()

    for type_ids in ([foreign], [own, foreign], [foreign + own + 1000]):
        for url, extra in (
            (f"/vouchers/{voucher['id']}", {"max_uses": 9}),
            (f"/gates/{gate['id']}", {"name": "X"}),
        ):
            response = await client.patch(
                url, json={**extra, "ticket_type_ids": type_ids}, headers=admin.headers
            )
            assert response.status_code == 422, (url, response.text)
            assert response.json()["extra"]["unknown"] == sorted(set(type_ids) - {own})
    for url in (f"/vouchers/{voucher['id']}", f"/gates/{gate['id']}"):
        for bad in (["x"], [-1], [None]):
            response = await client.patch(url, json={"ticket_type_ids": bad}, headers=admin.headers)
            assert response.status_code == 400, (url, bad, response.text)

    async with db() as session:
        stored = await session.get(Voucher, voucher["id"])
        stored_gate = await session.get(Gate, gate["id"])
        assert stored is not None
        assert stored_gate is not None
        assert stored.max_uses == 3
        assert (stored_gate.name, stored_gate.ticket_type_ids) == ("Main", [own])
    assert await named_by(db, own) == ([[own]], [voucher["id"]])
