"""The double-admission page: every ticket admitted more than once (offline scanners handing in
their scans), with each device, gate and time; counted on the dashboard."""

from __future__ import annotations

import re

from tests.integration.checkin.offline_support import minutes_ago, pair_device, scan, signed_tickets
from tests.support.api import make_actor, make_event
from tests.support.back_office import dashboard_rows, log_in, page_figures


async def test_tickets_admitted_twice_are_listed_with_devices_and_gates(client, db, admin, settings) -> None:
    holder = await make_actor(client, db, name="Grace Hopper")
    event = await make_event(client, admin, title="Festival")
    event_id = event["id"]
    tickets = await signed_tickets(client, db, settings, holder, event_id, quantity=2)
    gates = []
    for name in ("North", "South"):
        created = await client.post(f"/events/{event_id}/gates", json={"name": name}, headers=admin.headers)
        gates.append(created.json()["id"])
    north_id, north = await pair_device(client, admin, event_id, name="North phone", gate_id=gates[0])
    south_id, south = await pair_device(client, admin, event_id, name="South phone", gate_id=gates[1])
    code = tickets[0]["code"]
    first = await client.post(
        "/check-ins/sync", json={"scans": [scan(code, minutes_ago(2), gate_id=gates[0])]}, headers=north
    )
    again = await client.post(
        "/check-ins/sync",
        json={
            "scans": [scan(code, minutes_ago(1), gate_id=gates[1]), scan(tickets[1]["code"], minutes_ago(1))]
        },
        headers=south,
    )
    assert [r["result"] for r in first.json()["results"] + again.json()["results"]] == [
        "valid",
        "duplicate_admission",
        "valid",
    ]
    assert (await log_in(client, admin.email, admin.password)).status_code == 302

    page = await client.get(f"/admin/door/duplicates?event_id={event_id}")

    assert page.status_code == 200
    assert re.findall(r'<tr data-ticket-id="(\d+)">', page.text) == [str(tickets[0]["id"])]
    row = re.search(r'<tr data-ticket-id="\d+">(.*?)</tr>', page.text, re.DOTALL)[1]
    assert "Grace Hopper" in row
    admissions = re.findall(r'<li data-check-in-id="(\d+)" data-result="(\w+)">(.*?)</li>', row, re.DOTALL)
    assert [(result, "North phone" in text, "North" in text) for _, result, text in admissions] == [
        ("valid", True, True),
        ("duplicate_admission", False, False),
    ]
    assert "South phone" in admissions[1][2]
    assert "South" in admissions[1][2]
    assert "1 ticket admitted more than once" in page.text

    figures = page_figures((await client.get(f"/admin/dashboard/events/{event_id}")).text)
    assert figures["duplicate_admissions"] == 1
    dashboard = (await client.get("/admin/dashboard")).text
    assert f'href="http://testserver.local/admin/door/duplicates?event_id={event_id}"' in dashboard
    assert (north_id, south_id) != (None, None)


async def test_a_synced_double_admission_counts_in_every_dashboard_total(client, db, admin, settings) -> None:
    """The event's row, the totals row and the totals card of the dashboard, and the stats API,
    all count the admission a second offline device let in, in English and in Spanish."""
    holder = await make_actor(client, db)
    event = await make_event(client, admin, title="Festival")
    quiet = await make_event(client, admin, title="Recital")
    (ticket,) = await signed_tickets(client, db, settings, holder, event["id"])
    _, north = await pair_device(client, admin, event["id"], name="North phone")
    _, south = await pair_device(client, admin, event["id"], name="South phone")
    for device, minutes in ((north, 2), (south, 1)):
        synced = await client.post(
            "/check-ins/sync", json={"scans": [scan(ticket["code"], minutes_ago(minutes))]}, headers=device
        )
        assert synced.status_code == 200, synced.text
    assert (await log_in(client, admin.email, admin.password)).status_code == 302

    page = (await client.get("/admin/dashboard")).text

    rows = dashboard_rows(page)
    assert (rows[event["id"]]["duplicate_admissions"], rows[event["id"]]["checked_in"]) == (1, 1)
    assert rows[quiet["id"]]["duplicate_admissions"] == 0
    totals_row = re.search(r'<tr class="fw-bold" data-event-id="totals">(.*?)</tr>', page, re.DOTALL)[1]
    assert re.search(r'data-figure="duplicate_admissions">1<', totals_row)
    assert '<span data-total="duplicate_admissions">1</span> double admission<' in page
    stats = (await client.get("/stats", headers=admin.headers)).json()
    assert stats["totals"]["duplicate_admissions"] == 1
    assert {e["event_id"]: e["duplicate_admissions"] for e in stats["events"]} == {
        event["id"]: 1,
        quiet["id"]: 0,
    }
    one = (await client.get(f"/events/{event['id']}/stats", headers=admin.headers)).json()
    assert one["figures"]["duplicate_admissions"] == 1
    assert sum(slot["admitted"] for slot in one["check_ins_per_15_min"]) == 2

    assert (await client.patch("/me", json={"locale": "es"}, headers=admin.headers)).status_code == 200
    assert (
        await log_in(client, admin.email, admin.password)
    ).status_code == 302  # a changed account signs out
    spanish = (await client.get("/admin/dashboard")).text
    assert '<span data-total="duplicate_admissions">1</span> admisión doble<' in spanish
    assert ">Admisiones dobles</th>" in spanish


async def test_an_event_without_double_admissions_says_so(client, db, admin) -> None:
    event = await make_event(client, admin)
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    page = await client.get(f"/admin/door/duplicates?event_id={event['id']}")
    assert "No ticket of this event was admitted twice." in page.text
    assert (await client.get("/admin/door/duplicates")).status_code == 200  # the event picker


async def test_bad_requests(client, db, admin) -> None:
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    assert (await client.get("/admin/door/duplicates?event_id=999999")).status_code == 404
    assert (await client.get("/admin/door/duplicates?event_id=abc")).status_code == 400
    assert (await client.get("/admin/door/duplicates?event_id=1&page=0")).status_code == 400
    await client.get("/admin/logout")
    staff = await make_actor(client, db, role="staff")
    assert (await log_in(client, staff.email, staff.password)).status_code == 302
    assert (await client.get("/admin/door/duplicates", follow_redirects=False)).status_code == 403
