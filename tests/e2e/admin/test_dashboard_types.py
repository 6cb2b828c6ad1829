"""Figures per ticket type and per voucher on the dashboard: the stats service's numbers, as the
stats API reports them (one code for both)."""

from __future__ import annotations

import re
from typing import Any

from tests.support.api import make_actor, make_event
from tests.support.back_office import figure_value, log_in

TYPE_FIGURE = re.compile(r'data-type-figure="(?P<name>\w+)"(?P<attrs>[^>]*)>(?P<text>[^<]*)<')
VOUCHER_FIGURE = re.compile(r'data-voucher-figure="(?P<name>\w+)"(?P<attrs>[^>]*)>(?P<text>[^<]*)<')


def table_rows(page: str, kind: str, pattern: re.Pattern[str]) -> dict[int, dict[str, Any]]:
    """`{id: {figure: value}}` of the event page's table of types or vouchers."""
    found = {}
    for row in re.finditer(rf'<tr data-{kind}-id="(\d+)">(.*?)</tr>', page, re.DOTALL):
        found[int(row[1])] = {
            m["name"]: figure_value(m["name"], m["attrs"], m["text"]) for m in pattern.finditer(row[2])
        }
    return found


async def test_type_and_voucher_figures_match_the_stats_api(client, db, admin) -> None:
    buyer = await make_actor(client, db)
    staff = await make_actor(client, db, role="staff")
    event = await make_event(client, admin, capacity=50, price_cents=0)
    event_id = event["id"]
    (general,) = [t["id"] for t in (await client.get(f"/events/{event_id}/ticket-types")).json()]
    vip = await client.post(
        f"/events/{event_id}/ticket-types",
        json={"name": "VIP", "price_cents": 0, "capacity": 5},
        headers=admin.headers,
    )
    assert vip.status_code == 201, vip.text
    voucher = await client.post(
        f"/events/{event_id}/vouchers",
        json={"code": "FRIENDS", "kind": "percent", "value": 0, "max_uses": 3},
        headers=admin.headers,
    )
    assert voucher.status_code == 201, voucher.text
    bought = await client.post(
        f"/events/{event_id}/tickets",
        json={
            "items": [
                {"ticket_type_id": general, "quantity": 2},
                {"ticket_type_id": vip.json()["id"], "quantity": 1},
            ],
            "voucher_code": "FRIENDS",
        },
        headers=buyer.headers,
    )
    assert bought.status_code == 201, bought.text
    code = bought.json()["tickets"][0]["code"]
    assert (await client.post(f"/tickets/{code}/validate", json={}, headers=staff.headers)).status_code == 200
    api = (await client.get(f"/events/{event_id}/stats", headers=admin.headers)).json()
    assert (await log_in(client, admin.email, admin.password)).status_code == 302

    page = (await client.get(f"/admin/dashboard/events/{event_id}")).text

    types = table_rows(page, "type", TYPE_FIGURE)
    assert set(types) == {general, vip.json()["id"]}
    for row in api["figures"]["ticket_types"]:
        shown = types[row["ticket_type_id"]]
        assert shown == {name: row[name] for name in shown}, row["name"]
    assert types[vip.json()["id"]]["tickets_sold"] == 1
    assert sum(t["tickets_sold"] for t in types.values()) == 3
    assert sum(t["checked_in"] for t in types.values()) == 1
    vouchers = table_rows(page, "voucher", VOUCHER_FIGURE)
    [api_voucher] = api["vouchers"]
    shown = vouchers[api_voucher["voucher_id"]]
    assert shown.pop("uses") == f"{api_voucher['uses']} / 3"
    assert shown == {name: api_voucher[name] for name in shown}
    assert shown["tickets_sold"] == 3

    dashboard = (await client.get("/admin/dashboard")).text
    line = re.search(rf'data-types="{event_id}">(.*?)</div>', dashboard, re.DOTALL)[1]
    assert re.sub(r"<[^>]+>", "", line) == "General admission: 2 · VIP: 1"
    figures_csv = await client.get(f"/admin/dashboard/events/{event_id}/figures.csv")
    assert figures_csv.status_code == 200
    assert "FRIENDS" in figures_csv.text
