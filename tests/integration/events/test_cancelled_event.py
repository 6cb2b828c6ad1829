"""A cancelled event is history: its ticket types, vouchers and gates cannot be changed (409),
through the API as through the back office, and nothing of it moves (its price included)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.support.api import Actor, buy, make_actor, make_event
from tests.support.databases import waiting_for_row_locks
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import Gate
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.vouchers import Voucher
from ticketflow.domain.events.ticket_types import TicketTypeService
from ticketflow.domain.events.vouchers import VoucherService
from ticketflow.lib.errors import ConflictError


@dataclass
class CancelledEvent:
    admin: Actor
    event_id: int
    general_id: int
    vip_id: int
    voucher_id: int
    gate_id: int


async def cancelled_event(client, db) -> CancelledEvent:
    """A free event with a ticket sold, a second type (5000 cents, nothing sold), a voucher and a
    gate, then cancelled with `DELETE /events/{id}`."""
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, price_cents=0, timezone="Europe/Madrid")
    event_id = event["id"]
    [general] = (await client.get(f"/events/{event_id}/ticket-types")).json()
    assert (await buy(client, buyer, event_id)).status_code == 201
    vip = await client.post(
        f"/events/{event_id}/ticket-types", json={"name": "VIP", "price_cents": 5000}, headers=admin.headers
    )
    voucher = await client.post(
        f"/events/{event_id}/vouchers",
        json={"code": "EARLY", "kind": "percent", "value": 10},
        headers=admin.headers,
    )
    gate = await client.post(f"/events/{event_id}/gates", json={"name": "North"}, headers=admin.headers)
    assert (vip.status_code, voucher.status_code, gate.status_code) == (201, 201, 201)
    assert (await client.delete(f"/events/{event_id}", headers=admin.headers)).status_code == 204
    async with db() as session:
        assert (await session.get(Event, event_id)).status == "cancelled"
    return CancelledEvent(
        admin,
        event_id,
        general["id"],
        vip.json()["id"],
        voucher.json()[0]["id"],  # the answer lists the vouchers made
        gate.json()["id"],
    )


def columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


async def snapshot(db, event_id: int) -> dict[str, Any]:
    """Every row of the event that a change could touch, column by column."""
    async with db() as session:
        found: dict[str, Any] = {"event": columns(await session.get(Event, event_id))}
        for model in (TicketType, Voucher, Gate):
            rows = await session.scalars(select(model).where(model.event_id == event_id).order_by(model.id))
            found[model.__tablename__] = [columns(row) for row in rows]
    return found


async def test_a_cancelled_event_s_types_vouchers_and_gates_cannot_change(client, db) -> None:
    sale = await cancelled_event(client, db)
    before = await snapshot(db, sale.event_id)
    headers = sale.admin.headers
    attempts = [
        ("PATCH", f"/ticket-types/{sale.general_id}", {"price_cents": 100}),  # would move the event's price
        ("PATCH", f"/ticket-types/{sale.vip_id}", {"active": False}),
        ("DELETE", f"/ticket-types/{sale.vip_id}", None),
        ("POST", f"/events/{sale.event_id}/ticket-types", {"name": "Late"}),
        ("POST", f"/events/{sale.event_id}/vouchers", {"code": "LATE", "kind": "percent", "value": 5}),
        ("PATCH", f"/vouchers/{sale.voucher_id}", {"value": 50}),
        ("DELETE", f"/vouchers/{sale.voucher_id}", None),
        ("POST", f"/events/{sale.event_id}/gates", {"name": "South"}),
        ("PATCH", f"/gates/{sale.gate_id}", {"name": "East"}),
        ("DELETE", f"/gates/{sale.gate_id}", None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 409, (method, path, response.text)
        assert response.json()["detail"] == "a cancelled event cannot be changed", (method, path)
    assert await snapshot(db, sale.event_id) == before
    assert before["event"]["price_cents"] == 0
    assert [t["name"] for t in before["ticket_types"]] == ["General admission", "VIP"]
    assert len(before["vouchers"]) == len(before["gates"]) == 1


@pytest.mark.mysql
@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
@pytest.mark.parametrize("change", ["type", "voucher"])
async def test_a_change_waiting_for_the_events_cancellation_is_refused(client, db, change) -> None:
    """The change read the event before its cancellation committed, then waited for the event's
    lock: under the lock it sees the cancellation (a locking read), and changes nothing."""
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    type_id = event["ticket_types"][0]["id"]
    voucher = await client.post(
        f"/events/{event['id']}/vouchers",
        json={"code": "EARLY", "kind": "percent", "value": 10},
        headers=admin.headers,
    )
    assert voucher.status_code == 201, voucher.text
    before = await snapshot(db, event["id"])
    async with db() as cancelling:
        await cancelling.execute(select(Event.id).where(Event.id == event["id"]).with_for_update())
        await cancelling.execute(update(Event).where(Event.id == event["id"]).values(status="cancelled"))
        async with db() as session:
            if change == "type":
                changing = asyncio.ensure_future(
                    TicketTypeService(session).update_type(type_id, {"name": "Late"})
                )
            else:
                changing = asyncio.ensure_future(
                    VoucherService(session).update_voucher(voucher.json()[0]["id"], {"max_uses": 7}, None)
                )
            await waiting_for_row_locks(db, "UPDATE events%", changing)
            await cancelling.commit()
            with pytest.raises(ConflictError, match="a cancelled event cannot be changed"):
                await changing
    async with db() as session:
        assert (await session.get(TicketType, type_id)).name != "Late"
        assert (await session.get(Voucher, voucher.json()[0]["id"])).max_uses != 7
    after = await snapshot(db, event["id"])
    # nothing of the event changed but its cancellation: every type and voucher as before
    assert {key: after[key] for key in ("ticket_types", "vouchers", "gates")} == {
        key: before[key] for key in ("ticket_types", "vouchers", "gates")
    }
