"""The back office's Check-ins view: each scan with its gate and scanner device by name, the
offline fields of synced scans, and filters by gate and device that narrow the list."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.checkin.offline_support import minutes_ago, pair_device, scan, signed_tickets
from tests.support.api import make_actor, make_event
from tests.support.back_office import log_in

ROW = re.compile(r"<tr>\s*<td>\s*<input type=\"hidden\" value=\"(\d+)\"(.*?)</tr>", re.DOTALL)


def listed(page: str) -> dict[int, str]:
    """`{check-in id: the row's HTML}` of a list page."""
    return {int(m[1]): m[2] for m in ROW.finditer(page)}


@pytest.fixture
async def door_night(client, db, admin, settings) -> dict[str, Any]:
    """Two gates, a device at each; one ticket admitted at both (synced offline), one online."""
    holder = await make_actor(client, db)
    event = await make_event(client, admin, title="Festival")
    event_id = event["id"]
    tickets = await signed_tickets(client, db, settings, holder, event_id, quantity=2)
    gates = {}
    for name in ("North", "South"):
        created = await client.post(f"/events/{event_id}/gates", json={"name": name}, headers=admin.headers)
        gates[name] = created.json()["id"]
    north_id, north = await pair_device(client, admin, event_id, name="North phone", gate_id=gates["North"])
    south_id, south = await pair_device(client, admin, event_id, name="South phone", gate_id=gates["South"])
    code = tickets[0]["code"]
    first = await client.post(
        "/check-ins/sync",
        json={"scans": [scan(code, minutes_ago(2), gate_id=gates["North"], client_id="north-1")]},
        headers=north,
    )
    again = await client.post(
        "/check-ins/sync",
        json={"scans": [scan(code, minutes_ago(1), gate_id=gates["South"], client_id="south-1")]},
        headers=south,
    )
    online = await client.post(
        f"/tickets/{tickets[1]['code']}/validate", json={"gate_id": gates["South"]}, headers=south
    )
    assert [r["result"] for r in first.json()["results"] + again.json()["results"]] == [
        "valid",
        "duplicate_admission",
    ]
    assert online.status_code == 200, online.text
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    return {
        "gates": gates,
        "scanners": {"North phone": north_id, "South phone": south_id},
        "online": online.json()["check_in_id"],
    }


async def test_scans_show_their_gate_device_and_offline_fields(client, door_night) -> None:
    page = await client.get("/admin/check-in/list?pageSize=100")

    assert page.status_code == 200
    rows = listed(page.text)
    assert len(rows) == 3
    online = rows.pop(door_night["online"])
    assert "South phone" in online
    assert "/admin/door/gates/{}".format(door_night["gates"]["South"]) in online
    assert "duplicate_admission" not in online
    north, south = (rows[i] for i in sorted(rows))
    assert "North phone" in north
    assert ">North</a>" in north
    assert "South phone" in south
    assert ">South</a>" in south
    assert re.search(r"<td>\s*valid\s*</td>\s*<td>\s*\d{4}-\d\d-\d\d \d\d:\d\d UTC", south), (
        south
    )  # offline answer, synced
    assert re.search(r"<td>\s*duplicate_admission\s*</td>", south)
    assert "Gate" in page.text
    assert "Scanner" in page.text

    details = await client.get(f"/admin/check-in/details/{sorted(rows)[1]}")
    assert details.status_code == 200
    assert "south-1" in details.text
    assert "South phone" in details.text


async def test_filters_by_gate_and_device_narrow_the_list(client, door_night) -> None:
    gates, scanners = door_night["gates"], door_night["scanners"]

    by_gate = listed((await client.get(f"/admin/check-in/list?gate_id={gates['North']}")).text)
    by_device = listed((await client.get(f"/admin/check-in/list?scanner_id={scanners['South phone']}")).text)
    by_name = listed((await client.get("/admin/check-in/list?search=south%20PHONE")).text)
    both = listed(
        (
            await client.get(
                f"/admin/check-in/list?gate_id={gates['North']}&scanner_id={scanners['South phone']}"
            )
        ).text
    )

    assert len(by_gate) == 1
    assert "North phone" in next(iter(by_gate.values()))
    assert len(by_device) == 2
    assert door_night["online"] in by_device
    assert set(by_name) == set(by_device)
    assert both == {}
    page = (await client.get("/admin/check-in/list")).text
    assert "North (Festival)" in page
    assert "South phone (Festival)" in page


@pytest.mark.parametrize(
    "query", ["gate_id=abc", "scanner_id=-1", "gate_id=99999999999999999999", "gate_id=999999"]
)
async def test_bad_filter_values_find_nothing(client, door_night, query) -> None:
    page = await client.get(f"/admin/check-in/list?{query}")
    assert page.status_code == 200
    assert listed(page.text) == {}
    assert "Traceback" not in page.text
