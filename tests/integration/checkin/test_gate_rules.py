"""Scans at gates: counters in the scan's transaction, out-scans and re-entry, gate-bound devices."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.api import at_once, buy, make_actor, make_event
from tests.support.databases import gate_counts
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import GateCounter, counter_slot
from ticketflow.db.models.tickets import Ticket


@pytest.fixture
async def door(client, db):
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    holder = await make_actor(client, db, name="Emmy Noether")
    event = await make_event(client, admin, title="Festival")
    return admin, staff, holder, event


async def make_gate(client, admin, event, **body):
    response = await client.post(
        f"/events/{event['id']}/gates", json={"name": "G", **body}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def scan(client, staff, ticket, gate, direction="in"):
    return await client.post(
        f"/tickets/{ticket['code']}/validate",
        json={"gate_id": gate["id"], "direction": direction},
        headers=staff.headers,
    )


async def at_gate(client, staff, ticket, gate, direction="in"):
    response = await scan(client, staff, ticket, gate, direction)
    return response.status_code, response.json()["result"]


async def ticket_row(db, ticket):
    async with db() as session:
        return await session.get(Ticket, ticket["id"])


async def results(db, ticket):
    async with db() as session:
        rows = await session.scalars(
            select(CheckIn.result).where(CheckIn.ticket_id == ticket["id"]).order_by(CheckIn.id)
        )
        return list(rows)


async def counters(db, gate):
    return await gate_counts(db, gate["id"])


async def test_reentry_gate_lets_a_ticket_out_and_in_again(client, db, door) -> None:
    admin, staff, holder, event = door
    gate = await make_gate(client, admin, event, allow_reentry=True)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    assert await at_gate(client, staff, ticket, gate) == (409, "already_used")
    assert await at_gate(client, staff, ticket, gate, "out") == (200, "exited")
    assert await counters(db, gate) == (1, 0, 1)
    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    assert await counters(db, gate) == (2, 1, 1)
    async with db() as session:
        log = (await session.execute(select(CheckIn.result, CheckIn.gate_id).order_by(CheckIn.id))).all()
    assert [tuple(row) for row in log] == [
        ("valid", gate["id"]),
        ("already_used", gate["id"]),
        ("exited", gate["id"]),
        ("valid", gate["id"]),
    ]


async def test_without_reentry_the_first_admission_is_final(client, db, door) -> None:
    admin, staff, holder, event = door
    gate = await make_gate(client, admin, event)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert (await at_gate(client, staff, ticket, gate, "out"))[1] != "exited"  # not inside yet
    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    assert await at_gate(client, staff, ticket, gate, "out") == (200, "exited")
    assert await at_gate(client, staff, ticket, gate) == (409, "already_used")
    admitted, inside, refused = await counters(db, gate)
    assert (admitted, inside) == (1, 0)
    assert refused >= 1


async def test_a_gate_of_another_event_or_an_out_scan_without_gate_is_refused(client, db, door) -> None:
    admin, staff, holder, event = door
    other = await make_event(client, admin, title="Other")
    gate = await make_gate(client, admin, other)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    response = await client.post(
        f"/tickets/{ticket['code']}/validate",
        json={"event_id": event["id"], "gate_id": gate["id"]},
        headers=staff.headers,
    )
    assert response.status_code == 422
    no_gate = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"direction": "out"}, headers=staff.headers
    )
    assert no_gate.status_code == 422
    bad = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"direction": "up"}, headers=staff.headers
    )
    assert bad.status_code == 400
    async with db() as session:
        assert (await session.execute(select(CheckIn.id))).all() == []
    assert await counters(db, gate) == (0, 0, 0)


async def test_a_gate_bound_scanner_scans_only_at_its_gate(client, db, door) -> None:
    admin, _, holder, event = door
    north = await make_gate(client, admin, event, name="North")
    south = await make_gate(client, admin, event, name="South")
    created = await client.post(
        f"/events/{event['id']}/scanners", json={"name": "P", "gate_id": north["id"]}, headers=admin.headers
    )
    token = (await client.post("/scanners/pair", json={"code": created.json()["pairing_code"]})).json()[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    elsewhere = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"gate_id": south["id"]}, headers=headers
    )
    assert elsewhere.status_code == 403
    here = await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)
    assert here.status_code == 200
    assert await counters(db, north) == (1, 1, 0)
    assert await counters(db, south) == (0, 0, 0)


async def two_types(client, admin, event):
    """The event's own type and a second one, "Balcony"."""
    url = f"/events/{event['id']}/ticket-types"
    balcony = (await client.post(url, json={"name": "Balcony"}, headers=admin.headers)).json()
    (stalls,) = [t for t in (await client.get(url, headers=admin.headers)).json() if t["id"] != balcony["id"]]
    return stalls, balcony


async def buy_type(client, holder, event, ticket_type):
    body = {"items": [{"ticket_type_id": ticket_type["id"], "quantity": 1}]}
    response = await client.post(f"/events/{event['id']}/tickets", json=body, headers=holder.headers)
    assert response.status_code == 201, response.text
    return response.json()["tickets"][0]


async def test_a_ticket_of_a_type_the_gate_does_not_admit_is_wrong_gate(client, db, door) -> None:
    admin, staff, holder, event = door
    stalls, balcony = await two_types(client, admin, event)
    upstairs = await make_gate(client, admin, event, name="Upstairs", ticket_type_ids=[balcony["id"]])
    anywhere = await make_gate(client, admin, event, name="Main")
    stalls_ticket = await buy_type(client, holder, event, stalls)
    balcony_ticket = await buy_type(client, holder, event, balcony)

    refused = await scan(client, staff, stalls_ticket, upstairs)
    assert refused.status_code == 422
    assert refused.json()["result"] == "invalid"
    assert refused.json()["reason"] == "wrong_gate"
    assert refused.json()["gate"] == {
        "id": upstairs["id"],
        "name": "Upstairs",
        "admitted": 0,
        "inside": 0,
        "refused": 1,
    }
    assert (await ticket_row(db, stalls_ticket)).status == "active"
    assert await at_gate(client, staff, balcony_ticket, upstairs) == (200, "valid")
    assert await at_gate(client, staff, stalls_ticket, anywhere) == (200, "valid")
    # once admitted elsewhere, the upstairs gate still names the type, not the earlier admission
    assert (await scan(client, staff, stalls_ticket, upstairs)).json()["reason"] == "wrong_gate"
    assert await counters(db, upstairs) == (1, 1, 2)
    assert await counters(db, anywhere) == (1, 1, 0)
    # a cancelled ticket is said to be cancelled, not sent to another gate
    other = await buy_type(client, holder, event, stalls)
    async with db() as session:
        row = await session.get(Ticket, other["id"])
        row.status = "cancelled"
        await session.commit()
    assert (await scan(client, staff, other, upstairs)).json()["reason"] == "cancelled"


async def test_a_second_exit_is_refused_and_not_counted(client, db, door) -> None:
    admin, staff, holder, event = door
    final = await make_gate(client, admin, event, name="Final")
    reentry = await make_gate(client, admin, event, name="Loop", allow_reentry=True)
    once, again = [(await buy(client, holder, event["id"])).json()["tickets"][0] for _ in range(2)]

    assert await at_gate(client, staff, once, final) == (200, "valid")
    assert await at_gate(client, staff, again, final) == (200, "valid")
    assert await at_gate(client, staff, once, final, "out") == (200, "exited")
    second = await scan(client, staff, once, final, "out")
    assert (second.status_code, second.json()["result"]) == (409, "already_used")
    assert second.json()["used_at"] is not None
    assert await at_gate(client, staff, once, reentry, "out") == (409, "already_used")
    assert await at_gate(client, staff, once, final) == (409, "already_used")
    assert await counters(db, final) == (2, 1, 2)
    assert (await ticket_row(db, once)).left_at is not None

    assert await at_gate(client, staff, again, reentry, "out") == (200, "exited")
    assert await at_gate(client, staff, again, reentry, "out") == (409, "already_used")
    assert await at_gate(client, staff, again, reentry) == (200, "valid")
    assert await at_gate(client, staff, again, reentry) == (409, "already_used")  # inside already
    assert await counters(db, final) == (2, 0, 2)
    assert await counters(db, reentry) == (1, 1, 3)
    assert (await ticket_row(db, again)).left_at is None
    assert await results(db, again) == ["valid", "exited", "already_used", "valid", "already_used"]


async def test_an_exit_counts_at_the_gate_the_ticket_came_in_by(client, db, door) -> None:
    admin, staff, holder, event = door
    north = await make_gate(client, admin, event, name="North")
    south = await make_gate(client, admin, event, name="South")
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert await at_gate(client, staff, ticket, north) == (200, "valid")
    leaving = await scan(client, staff, ticket, south, "out")
    assert leaving.json()["result"] == "exited"
    assert leaving.json()["gate"]["id"] == south["id"]
    assert await counters(db, north) == (1, 0, 0)
    assert await counters(db, south) == (0, 0, 0)
    # admitted without a gate: leaving through one moves no counter
    plain = (await buy(client, holder, event["id"])).json()["tickets"][0]
    response = await client.post(f"/tickets/{plain['code']}/validate", headers=staff.headers)
    assert response.json()["result"] == "valid"
    assert "gate" not in response.json()
    assert await at_gate(client, staff, plain, south, "out") == (200, "exited")
    assert await counters(db, south) == (0, 0, 0)


async def test_undoing_an_admission_after_the_exit_keeps_inside_exact(client, db, door) -> None:
    admin, staff, holder, event = door
    gate = await make_gate(client, admin, event)
    stays, leaves = [(await buy(client, holder, event["id"])).json()["tickets"][0] for _ in range(2)]
    assert await at_gate(client, staff, stays, gate) == (200, "valid")
    admission = (await scan(client, staff, leaves, gate)).json()["check_in_id"]
    assert await at_gate(client, staff, leaves, gate, "out") == (200, "exited")
    assert await counters(db, gate) == (2, 1, 0)
    undone = await client.post(f"/check-ins/{admission}/revert", headers=admin.headers)
    assert undone.status_code == 200, undone.text
    assert await counters(db, gate) == (1, 1, 0)
    row = await ticket_row(db, leaves)
    assert (row.status, row.left_at) == ("active", None)
    assert await at_gate(client, staff, leaves, gate) == (200, "valid")
    assert await counters(db, gate) == (2, 2, 0)


async def test_fifty_simultaneous_scans_at_two_gates_admit_once(client, db, door) -> None:
    admin, staff, holder, event = door
    gates = [await make_gate(client, admin, event, name=name) for name in ("East", "West")]
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    answers = await at_once(client, lambda http: (scan(http, staff, ticket, gates[i % 2]) for i in range(50)))
    found = [answer.json()["result"] for answer in answers]
    assert (found.count("valid"), found.count("already_used")) == (1, 49)
    east, west = [await counters(db, gate) for gate in gates]
    assert (east[0] + west[0], east[1] + west[1], east[2] + west[2]) == (1, 1, 49)
    assert await results(db, ticket) == ["valid"] + ["already_used"] * 49


async def test_simultaneous_ins_and_outs_keep_one_state(client, db, door) -> None:
    """A ticket inside, scanned in and out at once at two re-entry gates: exits and admissions
    alternate, whatever their order, and the counters agree with the ticket."""
    admin, staff, holder, event = door
    gates = [await make_gate(client, admin, event, name=n, allow_reentry=True) for n in ("A", "B")]
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert await at_gate(client, staff, ticket, gates[0]) == (200, "valid")
    scans = await at_once(
        client,
        lambda http: (
            scan(http, staff, ticket, gates[i % 2], "out" if i % 4 < 2 else "in") for i in range(40)
        ),
    )
    found = [answer.json()["result"] for answer in scans]
    exits, admissions = found.count("exited"), found.count("valid")
    assert found.count("already_used") == 40 - exits - admissions
    assert exits - admissions in (0, 1)
    in_order = [r for r in await results(db, ticket) if r in ("valid", "exited")]
    assert in_order == ["valid", "exited"] * exits + ["valid"] * (admissions + 1 - exits)
    inside = int(exits == admissions)
    row = await ticket_row(db, ticket)
    assert (row.status, row.left_at is None) == (("used", True) if inside else ("active", False))
    a, b = [await counters(db, gate) for gate in gates]
    assert (a[0] + b[0], a[1] + b[1]) == (1 + admissions, inside)
    async with db() as session:
        refusals = await session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.result == "already_used")
        )
        log = (
            await session.execute(
                select(CheckIn.result, CheckIn.gate_id)
                .where(CheckIn.ticket_id == ticket["id"])
                .order_by(CheckIn.id)
            )
        ).all()
    assert a[2] + b[2] == refusals
    # each exit counts at the gate of the admission it ends (read as committed, not as the exit's
    # snapshot from before it waited for the ticket had it): each gate's `inside` is its own
    expected = {gate["id"]: 0 for gate in gates}
    entry = None
    for result, gate_id in log:
        if result == "valid":
            entry = gate_id
            expected[gate_id] += 1
        elif result == "exited":
            expected[entry] -= 1
    assert (a[1], b[1]) == (expected[gates[0]["id"]], expected[gates[1]["id"]])


async def test_a_ticket_out_through_a_reentry_gate_stays_attended(client, db, door) -> None:
    """Out for now is not unused: the holder cannot cancel, refund or give away a ticket that came
    in, and the amber screen keeps showing the first admission."""
    admin, staff, holder, event = door
    friend = await make_actor(client, db, name="Sophie Germain")
    gate = await make_gate(client, admin, event, allow_reentry=True)
    order = (await buy(client, holder, event["id"])).json()
    ticket = order["tickets"][0]
    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    first_admission = (await ticket_row(db, ticket)).used_at
    assert await at_gate(client, staff, ticket, gate, "out") == (200, "exited")

    cancel = await client.post(f"/tickets/{ticket['id']}/cancel", headers=holder.headers)
    cancel_order = await client.post(f"/orders/{order['order']['id']}/cancel", headers=holder.headers)
    transfer = await client.post(
        f"/tickets/{ticket['id']}/transfer", json={"email": friend.email}, headers=holder.headers
    )
    assert cancel.status_code == 409, cancel.text
    assert cancel_order.status_code == 409, cancel_order.text
    assert transfer.status_code == 409, transfer.text
    row = await ticket_row(db, ticket)
    assert (row.user_id, row.cancelled_at, row.used_at) == (holder.id, None, first_admission)

    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    again = await scan(client, staff, ticket, gate)
    assert again.status_code == 409
    assert (await ticket_row(db, ticket)).used_at == first_admission


async def session_scalar(db, statement):
    async with db() as session:
        return await session.scalar(statement)


async def counter_rows(db, gate):
    async with db() as session:
        rows = await session.execute(
            select(GateCounter.slot, GateCounter.admitted, GateCounter.refused, GateCounter.inside)
            .where(GateCounter.gate_id == gate["id"])
            .where((GateCounter.admitted != 0) | (GateCounter.refused != 0) | (GateCounter.inside != 0))
            .order_by(GateCounter.slot)
        )
        return [tuple(row) for row in rows]


async def test_a_scan_counts_in_the_row_of_its_log_row_or_of_its_device(client, db, door) -> None:
    """The log row and its counter change are written together: a staff scan's change lands in
    the slot of the log row just inserted, a device's in the slot of the device."""
    admin, staff, holder, event = door
    gate = await make_gate(client, admin, event)
    first, second = (await buy(client, holder, event["id"], quantity=2)).json()["tickets"]
    staff_scan = await scan(client, staff, first, gate)
    assert staff_scan.status_code == 200
    staff_slot = counter_slot(staff_scan.json()["check_in_id"])
    assert await counter_rows(db, gate) == [(staff_slot, 1, 0, 1)]
    # the device's admission will be the next log row: take a device whose slot is another, so
    # the undo below tells the device's row from the log row's
    admission_slot = counter_slot(staff_scan.json()["check_in_id"] + 1)
    device_slot = admission_slot
    while device_slot == admission_slot:
        created = await client.post(
            f"/events/{event['id']}/scanners",
            json={"name": "P", "gate_id": gate["id"]},
            headers=admin.headers,
        )
        assert created.status_code == 201, created.text
        device_slot = counter_slot(created.json()["id"])
    token = (await client.post("/scanners/pair", json={"code": created.json()["pairing_code"]})).json()[
        "access_token"
    ]
    device = {"Authorization": f"Bearer {token}"}
    assert (await client.post(f"/tickets/{second['code']}/validate", headers=device)).status_code == 200
    assert (await client.post(f"/tickets/{second['code']}/validate", headers=device)).status_code == 409
    expected = {staff_slot: (1, 0, 1)}
    before = expected.get(device_slot, (0, 0, 0))
    expected[device_slot] = (before[0] + 1, before[1] + 1, before[2] + 1)
    assert await counter_rows(db, gate) == sorted((slot, *counts) for slot, counts in expected.items())
    assert await counters(db, gate) == (2, 2, 1)
    # an undo takes the admission back from the row it counted in, the device's
    device_admission = await session_scalar(db, select(func.max(CheckIn.id)).where(CheckIn.result == "valid"))
    assert device_admission == staff_scan.json()["check_in_id"] + 1
    undone = await client.post(f"/check-ins/{device_admission}/revert", headers=admin.headers)
    assert undone.status_code == 200, undone.text
    expected[device_slot] = (before[0], before[1] + 1, before[2])
    wanted = sorted((slot, *counts) for slot, counts in expected.items() if counts != (0, 0, 0))
    assert await counter_rows(db, gate) == wanted
    assert await counters(db, gate) == (1, 1, 1)  # admitted, inside, refused


async def pair_device(client, admin, event, gate=None):
    body = {"name": "Phone"} | ({} if gate is None else {"gate_id": gate["id"]})
    created = await client.post(f"/events/{event['id']}/scanners", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    pairing = await client.post("/scanners/pair", json={"code": created.json()["pairing_code"]})
    return {"Authorization": f"Bearer {pairing.json()['access_token']}"}


async def test_a_device_at_a_gate_admits_only_the_types_the_gate_admits(client, db, door) -> None:
    """A device bound to a gate scans by that gate's rule: a ticket of another type stays active and
    is refused as wrong_gate."""
    admin, _, holder, event = door
    stalls, balcony = await two_types(client, admin, event)
    upstairs = await make_gate(client, admin, event, name="Upstairs", ticket_type_ids=[balcony["id"]])
    mixed = await make_gate(client, admin, event, name="Side", ticket_type_ids=[stalls["id"], balcony["id"]])
    device = await pair_device(client, admin, event, upstairs)
    roaming = await pair_device(client, admin, event)
    stalls_ticket = await buy_type(client, holder, event, stalls)
    balcony_ticket = await buy_type(client, holder, event, balcony)

    refused = await client.post(f"/tickets/{stalls_ticket['code']}/validate", headers=device)
    assert (refused.status_code, refused.json()["reason"]) == (422, "wrong_gate")
    assert (await ticket_row(db, stalls_ticket)).status == "active"
    admitted = await client.post(f"/tickets/{balcony_ticket['code']}/validate", headers=device)
    assert admitted.status_code == 200
    assert admitted.json()["gate"] == {
        "id": upstairs["id"],
        "name": "Upstairs",
        "admitted": 1,
        "inside": 1,
        "refused": 1,
    }
    # a device bound to no gate scans at the gate the scan names, by that gate's rule
    named = await client.post(
        f"/tickets/{stalls_ticket['code']}/validate", json={"gate_id": mixed["id"]}, headers=roaming
    )
    assert (named.status_code, named.json()["gate"]["name"]) == (200, "Side")
    assert await counters(db, upstairs) == (1, 1, 1)
    assert await counters(db, mixed) == (1, 1, 0)


async def test_a_change_of_a_gate_applies_to_its_devices_next_scan(client, db, door) -> None:
    """The door holds a gate's rule per process, by the rule's version: a change of the gate's
    types or name applies from the device's very next scan."""
    admin, _, holder, event = door
    stalls, balcony = await two_types(client, admin, event)
    gate = await make_gate(client, admin, event, name="Upstairs", ticket_type_ids=[balcony["id"]])
    device = await pair_device(client, admin, event, gate)
    first, second, third = [await buy_type(client, holder, event, stalls) for _ in range(3)]

    refused = await client.post(f"/tickets/{first['code']}/validate", headers=device)
    assert (refused.status_code, refused.json()["reason"]) == (422, "wrong_gate")
    changed = await client.patch(
        f"/gates/{gate['id']}",
        json={"ticket_type_ids": [stalls["id"]], "name": "Stalls"},
        headers=admin.headers,
    )
    assert changed.status_code == 200
    admitted = await client.post(f"/tickets/{second['code']}/validate", headers=device)
    assert (admitted.status_code, admitted.json()["gate"]["name"]) == (200, "Stalls")
    back = await client.patch(
        f"/gates/{gate['id']}", json={"ticket_type_ids": [balcony["id"]]}, headers=admin.headers
    )
    assert back.status_code == 200
    again = await client.post(f"/tickets/{third['code']}/validate", headers=device)
    assert (again.status_code, again.json()["reason"]) == (422, "wrong_gate")
    assert (await ticket_row(db, third)).status == "active"
    assert await counters(db, gate) == (1, 1, 2)


async def test_a_device_scan_refused_after_its_admission_changes_nothing(client, db, door) -> None:
    """A scan naming an event or gate the device may not scan for is refused whole: the ticket is
    still active and nothing is logged."""
    admin, _, holder, event = door
    other = await make_event(client, admin, title="Other")
    foreign_gate = await make_gate(client, admin, other, name="Foreign")
    device = await pair_device(client, admin, event)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    url = f"/tickets/{ticket['code']}/validate"
    assert (await client.post(url, json={"event_id": other["id"]}, headers=device)).status_code == 403
    assert (await client.post(url, json={"gate_id": foreign_gate["id"]}, headers=device)).status_code == 422
    assert (await client.post(url, json={"gate_id": 10**9}, headers=device)).status_code == 422
    assert (await ticket_row(db, ticket)).status == "active"
    assert await results(db, ticket) == []
    assert await counters(db, foreign_gate) == (0, 0, 0)
    assert (await client.post(url, headers=device)).status_code == 200


async def test_a_gate_made_after_one_was_deleted_scans_by_its_own_rule(client, db, door) -> None:
    """The rule a process holds is the deleted gate's, whatever id the new gate gets: its devices
    scan by the new gate's types and name."""
    admin, _, holder, event = door
    stalls, balcony = await two_types(client, admin, event)
    old = await make_gate(client, admin, event, name="Upstairs", ticket_type_ids=[balcony["id"]])
    old_device = await pair_device(client, admin, event, old)
    refused = await client.post(
        f"/tickets/{(await buy_type(client, holder, event, stalls))['code']}/validate", headers=old_device
    )
    assert (refused.status_code, refused.json()["reason"]) == (422, "wrong_gate")
    assert (await client.delete(f"/gates/{old['id']}", headers=admin.headers)).status_code == 204

    new = await make_gate(client, admin, event, name="Stalls", ticket_type_ids=[stalls["id"]])
    device = await pair_device(client, admin, event, new)
    admitted = await client.post(
        f"/tickets/{(await buy_type(client, holder, event, stalls))['code']}/validate", headers=device
    )
    assert (admitted.status_code, admitted.json()["gate"]["name"]) == (200, "Stalls"), admitted.text
    balcony_ticket = await buy_type(client, holder, event, balcony)
    wrong = await client.post(f"/tickets/{balcony_ticket['code']}/validate", headers=device)
    assert (wrong.status_code, wrong.json()["reason"]) == (422, "wrong_gate")
    assert await counters(db, new) == (1, 1, 1)


async def test_every_answer_counts_its_own_scan_at_its_gate_only(client, db, door) -> None:
    """An answer's counters are its gate's as the scan's first read saw them, plus the scan's own
    change when it counts at that gate: scans one after another see exactly the gate's counters
    after them, for staff and devices, refusals, and exits (which count at the entry gate)."""
    admin, staff, holder, event = door
    north = await make_gate(client, admin, event, name="North", allow_reentry=True)
    south = await make_gate(client, admin, event, name="South")
    bound = await pair_device(client, admin, event, north)
    roaming = await pair_device(client, admin, event)
    first, second, third, plain = (await buy(client, holder, event["id"], quantity=4)).json()["tickets"]

    async def answered(headers, ticket, gate, expected, **body):
        url = f"/tickets/{ticket['code']}/validate"
        response = await client.post(url, json=body, headers=headers)
        assert response.json()["result"] == expected, response.text
        admitted, inside, refused = await counters(db, gate)
        assert response.json()["gate"] == {
            "id": gate["id"],
            "name": gate["name"],
            "admitted": admitted,
            "inside": inside,
            "refused": refused,
        }
        return admitted, inside, refused

    assert await answered(staff.headers, first, north, "valid", gate_id=north["id"]) == (1, 1, 0)
    assert await answered(staff.headers, first, north, "already_used", gate_id=north["id"]) == (1, 1, 1)
    assert await answered(bound, second, north, "valid") == (2, 2, 1)
    assert await answered(roaming, third, south, "valid", gate_id=south["id"]) == (1, 1, 0)
    # out at the south gate: counted at the north gate it came in by, answered with the south's
    left = await answered(staff.headers, first, south, "exited", gate_id=south["id"], direction="out")
    assert left == (1, 1, 0)
    assert await counters(db, north) == (2, 1, 1)
    assert await answered(bound, second, north, "exited", direction="out") == (2, 0, 1)
    assert await answered(bound, second, north, "already_used", direction="out") == (2, 0, 2)
    assert await answered(bound, second, north, "valid") == (3, 1, 2)  # re-entry
    assert (await client.post(f"/tickets/{plain['code']}/validate", headers=staff.headers)).status_code == 200
    assert await answered(roaming, plain, south, "exited", gate_id=south["id"], direction="out") == (1, 1, 0)
    assert await answered(roaming, {"code": "nonsense"}, south, "invalid", gate_id=south["id"]) == (1, 1, 1)
    assert await counters(db, north) == (3, 1, 2)


async def test_a_change_of_a_gate_applies_to_the_next_scan_of_staff_and_unbound_devices(
    client, db, door
) -> None:
    """Staff and devices bound to no gate name the gate in the scan: the process holds its rule by
    version for them too, and a change applies from the very next scan."""
    admin, staff, holder, event = door
    stalls, balcony = await two_types(client, admin, event)
    gate = await make_gate(client, admin, event, name="Upstairs", ticket_type_ids=[balcony["id"]])
    roaming = await pair_device(client, admin, event)
    tickets = [await buy_type(client, holder, event, stalls) for _ in range(4)]

    async def scanned(headers, ticket):
        url = f"/tickets/{ticket['code']}/validate"
        response = await client.post(url, json={"gate_id": gate["id"]}, headers=headers)
        return response.json().get("reason") or response.json()["gate"]["name"]

    async def by_both(staff_ticket, device_ticket):
        return [await scanned(staff.headers, staff_ticket), await scanned(roaming, device_ticket)]

    assert await by_both(tickets[0], tickets[1]) == ["wrong_gate", "wrong_gate"]
    changed = await client.patch(
        f"/gates/{gate['id']}",
        json={"ticket_type_ids": [stalls["id"]], "name": "Stalls"},
        headers=admin.headers,
    )
    assert changed.status_code == 200
    assert await by_both(tickets[0], tickets[1]) == ["Stalls", "Stalls"]
    back = await client.patch(
        f"/gates/{gate['id']}", json={"ticket_type_ids": [balcony["id"]]}, headers=admin.headers
    )
    assert back.status_code == 200
    assert await by_both(tickets[2], tickets[3]) == ["wrong_gate", "wrong_gate"]
    assert [(await ticket_row(db, t)).status for t in tickets] == ["used", "used", "active", "active"]
    assert await counters(db, gate) == (2, 2, 4)
