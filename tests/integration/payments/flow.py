"""Arrange and assert helpers of the payment tests: priced events, checkout pages, inventory."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from tests.support.api import Actor, buy, make_event
from ticketflow.db.base import Base
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.payments import Payment, Refund
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.vouchers import Voucher

PRICE = 2500
VIP_PRICE = 5000
VIP_OFF = 1000
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


async def priced_event(client: AsyncTestClient[Litestar], admin: Actor, **overrides: Any) -> dict[str, Any]:
    overrides.setdefault("price_cents", PRICE)
    return await make_event(client, admin, **overrides)


async def buy_pending(
    client: AsyncTestClient[Litestar], buyer: Actor, event_id: int, quantity: int = 1, key: str | None = None
) -> dict[str, Any]:
    response = await buy(client, buyer, event_id, quantity, key)
    assert response.status_code == 201, response.text
    purchase: dict[str, Any] = response.json()
    assert purchase["order"]["status"] == "pending"
    return purchase


async def vip_sale(
    client: AsyncTestClient[Litestar], admin: Actor, **voucher: Any
) -> tuple[dict[str, Any], int, int]:
    """A priced event with its general type (PRICE) and a VIP type (VIP_PRICE), and a voucher
    `VIP-OFF` taking VIP_OFF off each VIP ticket only, usable once (`voucher` overrides its body)."""
    event = await priced_event(client, admin, capacity=10)
    url = f"/events/{event['id']}/ticket-types"
    ((general_id),) = [t["id"] for t in (await client.get(url)).json()]
    vip = await client.post(url, json={"name": "VIP", "price_cents": VIP_PRICE}, headers=admin.headers)
    assert vip.status_code == 201, vip.text
    vip_id = vip.json()["id"]
    body = {"code": "VIP-OFF", "kind": "amount", "value": VIP_OFF, "max_uses": 1, "ticket_type_ids": [vip_id]}
    created = await client.post(f"/events/{event['id']}/vouchers", json=body | voucher, headers=admin.headers)
    assert created.status_code == 201, created.text
    return event, general_id, vip_id


async def buy_mixed(
    client: AsyncTestClient[Litestar], buyer: Actor, event_id: int, general_id: int, vip_id: int
) -> dict[str, Any]:
    """One general ticket and two discounted VIP tickets: PRICE + 2 x (VIP_PRICE - VIP_OFF)."""
    body = {
        "items": [{"ticket_type_id": general_id, "quantity": 1}, {"ticket_type_id": vip_id, "quantity": 2}],
        "voucher_code": "VIP-OFF",
    }
    response = await client.post(f"/events/{event_id}/tickets", json=body, headers=buyer.headers)
    assert response.status_code == 201, response.text
    purchase: dict[str, Any] = response.json()
    assert purchase["order"]["amount_cents"] == PRICE + 2 * (VIP_PRICE - VIP_OFF)
    return purchase


async def voucher_uses(db: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(Voucher.uses).where(Voucher.code == "VIP-OFF")) or 0)


def local_url(url: str) -> str:
    """Path and query of an absolute URL (the test client serves the app under another host)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@dataclass
class CheckoutPage:
    order_id: int
    html: str
    token: str
    attempt: str


async def open_checkout(client: AsyncTestClient[Litestar], purchase: dict[str, Any]) -> CheckoutPage:
    url = purchase["payment"]["checkout_url"]
    response = await client.get(local_url(url))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    fields = dict(HIDDEN_INPUT.findall(response.text))
    token = parse_qs(urlsplit(url).query)["token"][0]
    return CheckoutPage(purchase["order"]["id"], response.text, token, fields.get("attempt", ""))


async def press_pay(client: AsyncTestClient[Litestar], page: CheckoutPage, attempt: str | None = None) -> Any:
    return await client.post(
        f"/payments/simulated/{page.order_id}/pay",
        data={"token": page.token, "attempt": attempt or page.attempt},
        follow_redirects=False,
    )


async def press_cancel(client: AsyncTestClient[Litestar], page: CheckoutPage) -> Any:
    return await client.post(
        f"/payments/simulated/{page.order_id}/cancel", data={"token": page.token}, follow_redirects=False
    )


async def pay_order(client: AsyncTestClient[Litestar], purchase: dict[str, Any]) -> None:
    response = await press_pay(client, await open_checkout(client, purchase))
    assert response.status_code == 303, response.text


@dataclass
class Inventory:
    capacity: int
    sold: int
    held: int
    tickets: Counter[str]
    types: dict[int, tuple[int, int, Counter[str]]]
    """Per ticket type: its sold and held counters and its tickets by status."""

    def assert_consistent(self) -> None:
        """The counters are the tickets: held = pending, sold = active + used, within capacity;
        the same for every ticket type."""
        assert self.held == self.tickets["pending"], self
        assert self.sold == self.tickets["active"] + self.tickets["used"], self
        assert self.sold + self.held <= self.capacity, self
        for sold, held, tickets in self.types.values():
            assert held == tickets["pending"], self
            assert sold == tickets["active"] + tickets["used"], self


async def inventory(db: Any, event_id: int) -> Inventory:
    async with db() as session:
        event = await session.get(Event, event_id)
        statuses = await session.execute(
            select(Ticket.status, func.count()).where(Ticket.event_id == event_id).group_by(Ticket.status)
        )
        counts: Counter[str] = Counter(dict(statuses.all()))
        types = {
            type_id: (sold, held, Counter[str]())
            for type_id, sold, held in await session.execute(
                select(TicketType.id, TicketType.sold, TicketType.held).where(TicketType.event_id == event_id)
            )
        }
        by_type = await session.execute(
            select(Ticket.ticket_type_id, Ticket.status, func.count())
            .where(Ticket.event_id == event_id)
            .group_by(Ticket.ticket_type_id, Ticket.status)
        )
        for type_id, status, count in by_type:
            types[type_id][2][status] = count
    return Inventory(event.capacity, event.tickets_sold, event.tickets_held, counts, types)


async def sold_and_held(db: Any, event_id: int) -> tuple[int, int]:
    """The event's sold and held seats, once its counters are checked against its tickets."""
    state = await inventory(db, event_id)
    state.assert_consistent()
    return state.sold, state.held


async def order_row(db: Any, order_id: int) -> Order:
    async with db() as session:
        order = await session.get(Order, order_id)
    assert order is not None
    return order


async def ticket_statuses(db: Any, order_id: int) -> list[str]:
    async with db() as session:
        return list(
            await session.scalars(
                select(Ticket.status).where(Ticket.order_id == order_id).order_by(Ticket.id)
            )
        )


async def payments_for(db: Any, order_id: int) -> list[Payment]:
    async with db() as session:
        return list(
            await session.scalars(select(Payment).where(Payment.order_id == order_id).order_by(Payment.id))
        )


async def only_payment(db: Any, order_id: int) -> Payment:
    """The one payment reported for the order."""
    (payment,) = await payments_for(db, order_id)
    return payment


async def refused_in_full(db: Any, order_id: int) -> str:
    """The refusal of the order's one payment, once checked that it was refused and that one
    refund of all of it is owed."""
    payment = await only_payment(db, order_id)
    assert payment.status == "refused", payment
    refunds = [(r.amount_cents, r.reason) for r in await refunds_for(db, order_id)]
    assert refunds == [(payment.amount_cents, "payment_refused")], refunds
    return str(payment.refusal)


async def refunds_for(db: Any, order_id: int) -> list[Refund]:
    async with db() as session:
        return list(
            await session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
        )


async def expire_hold(db: Any, order_id: int) -> None:
    """The hold's time is up (the clock is not faked: the expiry is moved into the past)."""
    async with db() as session:
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()


async def database_state(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove that a refused request changed nothing."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    async with db() as session:
        for table in Base.metadata.sorted_tables:
            rows = await session.execute(select(table).order_by(*table.primary_key.columns))
            state[table.name] = [tuple(row) for row in rows]
    return state
