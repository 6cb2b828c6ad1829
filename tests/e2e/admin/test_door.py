"""The door in the back office: gates, scanners (pair, revoke), live counters, the scan log and
its undo, the door desk; every change through the door's services, every form same-origin."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.api import Actor, buy, make_actor, make_event
from tests.support.back_office import log_in
from tests.support.databases import gate_counts
from ticketflow.admin.mount import AdminPlugin
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.state import STATE_KEY

PAIRING_CODE = re.compile(r'id="pairing-code">([^<]+)<')


async def rows(db, model) -> list[Any]:
    async with db() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


def counters(page: str, gate_id: int) -> dict[str, Any]:
    """The counters of one gate's row on the event's door page."""
    row = re.search(rf'<tr data-gate-id="{gate_id}">(.*?)</tr>', page, re.DOTALL)
    assert row, page
    found: dict[str, Any] = {m[1]: int(m[2]) for m in re.finditer(r'data-counter="(\w+)">(\d+)<', row[1])}
    found["reasons"] = {m[1]: int(m[2]) for m in re.finditer(r'data-refused="(\w+)">[^<]*?: (\d+)<', row[1])}
    return found


def scan_log_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-check-in-id="(\d+)"', page)]


@pytest.fixture
async def door(client, db, admin) -> dict[str, Any]:
    """An event with two tickets of one holder, and the back office signed in."""
    holder = await make_actor(client, db, name="Ada Lovelace")
    event = await make_event(client, admin, title="Gala")
    bought = await buy(client, holder, event["id"], quantity=2)
    assert bought.status_code == 201, bought.text
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    return {
        "admin_id": admin.id,
        "event": event,
        "holder": holder,
        "order": bought.json()["order"],
        "tickets": bought.json()["tickets"],
    }


async def add_gate(client, event_id: int, **form: Any) -> Any:
    return await client.post(
        f"/admin/door/events/{event_id}/gates", data={"name": "North", **form}, follow_redirects=False
    )


async def add_scanner(client, event_id: int, **form: Any) -> Any:
    return await client.post(
        f"/admin/door/events/{event_id}/scanners", data={"name": "Phone 1", "hours": "12", **form}
    )


async def paired_scanner(client, db, event_id: int, gate_id: int) -> tuple[Scanner, dict[str, str]]:
    created = await add_scanner(client, event_id, gate_id=str(gate_id))
    assert created.status_code == 200, created.text
    code = PAIRING_CODE.search(created.text)[1]
    paired = await client.post("/scanners/pair", json={"code": code})
    assert paired.status_code == 200, paired.text
    scanner = (await rows(db, Scanner))[-1]
    return scanner, {"Authorization": f"Bearer {paired.json()['access_token']}"}


async def scan(client, code: str, headers: dict[str, str], gate_id: int | None, event_id: int) -> Any:
    body: dict[str, Any] = {"event_id": event_id}
    if gate_id is not None:
        body["gate_id"] = gate_id
    return await client.post(f"/tickets/{code}/validate", json=body, headers=headers)


async def test_gates_scanners_and_live_counters(client, db, door, settings) -> None:
    event_id = door["event"]["id"]
    created = await add_gate(client, event_id, allow_reentry="y")
    assert created.status_code == 303
    [gate] = await rows(db, Gate)
    assert (gate.name, gate.allow_reentry, gate.ticket_type_ids) == ("North", True, [])

    answer = await add_scanner(client, event_id, gate_id=str(gate.id))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    code = PAIRING_CODE.search(answer.text)[1]
    assert f"{settings.public_base_url.rstrip('/')}/scan#code={code}" in answer.text
    assert 'src="data:image/svg+xml;base64,' in answer.text  # the link as a QR code for the phone
    [scanner] = await rows(db, Scanner)
    assert scanner.pairing_code_hash == hashlib.sha256(code.encode()).digest()
    assert (scanner.gate_id, scanner.name) == (gate.id, "Phone 1")
    assert code not in (await client.get(f"/admin/door/events/{event_id}")).text  # shown once only

    paired = await client.post("/scanners/pair", json={"code": code})
    token = {"Authorization": f"Bearer {paired.json()['access_token']}"}
    first, second = door["tickets"]
    assert (await scan(client, first["code"], token, gate.id, event_id)).status_code == 200
    assert (await scan(client, first["code"], token, gate.id, event_id)).status_code == 409
    unknown = "tf1.unknown-code-0000000000000000000000"
    assert (await scan(client, unknown, token, gate.id, event_id)).status_code == 404

    page = (await client.get(f"/admin/door/events/{event_id}")).text
    assert counters(page, gate.id) == {
        "admitted": 1,
        "inside": 1,
        "refused": 2,
        "reasons": {"already_used": 1, "unknown": 1},
    }
    scanner_row = re.search(rf'<tr data-scanner-id="{scanner.id}">(.*?)</tr>', page, re.DOTALL)[1]
    assert 'data-count="scans">3<' in scanner_row
    assert 'data-count="admitted">1<' in scanner_row
    assert 'data-state="active"' in scanner_row
    assert "never" not in scanner_row  # last seen is shown

    revoked = await client.post(f"/admin/door/scanners/{scanner.id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303
    assert (await rows(db, Scanner))[0].revoked_at is not None
    refused = await scan(client, second["code"], token, gate.id, event_id)
    assert refused.status_code == 401  # at once: the device's next request
    async with db() as session:
        assert (await session.get(Ticket, second["id"])).status == "active"


async def test_gate_edit_and_ticket_types(client, db, door) -> None:
    event_id = door["event"]["id"]
    types = (await client.get(f"/events/{event_id}/ticket-types")).json()
    type_id = types[0]["id"] if isinstance(types, list) else types["items"][0]["id"]
    assert (await add_gate(client, event_id, ticket_type_ids=str(type_id))).status_code == 303
    [gate] = await rows(db, Gate)
    assert gate.ticket_type_ids == [type_id]

    form = await client.get(f"/admin/door/gates/{gate.id}")
    assert form.status_code == 200
    assert f'value="{type_id}" checked' in form.text
    saved = await client.post(f"/admin/door/gates/{gate.id}", data={"name": "South"}, follow_redirects=False)
    assert saved.status_code == 303
    [gate] = await rows(db, Gate)
    assert (gate.name, gate.ticket_type_ids, gate.allow_reentry) == ("South", [], False)


@pytest.mark.parametrize(
    "form",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "Tab\there"},
        {"name": "A", "ticket_type_ids": "999999"},
        {"name": "A", "ticket_type_ids": "abc"},
    ],
)
async def test_bad_gates_change_nothing(client, db, door, form) -> None:
    response = await client.post(f"/admin/door/events/{door['event']['id']}/gates", data=form)
    assert response.status_code == 400
    assert 'id="form-error"' in response.text
    assert await rows(db, Gate) == []


@pytest.mark.parametrize(
    "form",
    [
        {"name": ""},
        {"name": "P", "hours": "0"},
        {"name": "P", "hours": "721"},
        {"name": "P", "hours": "soon"},
        {"name": "P", "hours": "2", "gate_id": "424242"},
    ],
)
async def test_bad_scanners_change_nothing(client, db, door, form) -> None:
    response = await client.post(f"/admin/door/events/{door['event']['id']}/scanners", data=form)
    assert response.status_code == 400
    assert "pairing-code" not in response.text
    assert await rows(db, Scanner) == []


@pytest.mark.parametrize(
    "path",
    [
        "/admin/door/events/999999",
        "/admin/door/events/0",
        "/admin/door/events/99999999999999999999999",
        "/admin/door/gates/999999",
        "/admin/door/events/abc",
    ],
)
async def test_unknown_ids_are_404(client, door, path) -> None:
    assert (await client.get(path)).status_code == 404


async def test_unknown_targets_of_posts_are_404(client, db, door) -> None:
    assert (await client.post("/admin/door/events/999999/gates", data={"name": "N"})).status_code == 404
    scanner = {"name": "N", "hours": "1"}
    assert (await client.post("/admin/door/events/999999/scanners", data=scanner)).status_code == 404
    assert (await client.post("/admin/door/scanners/999999/revoke")).status_code == 404
    assert (await client.post("/admin/door/check-ins/999999/revert")).status_code == 404
    assert await rows(db, Gate) == []
    assert await rows(db, Scanner) == []


async def test_scan_log_filters_and_undo(client, db, door) -> None:
    event_id = door["event"]["id"]
    await add_gate(client, event_id, name="North")
    await add_gate(client, event_id, name="South")
    north, south = await rows(db, Gate)
    north_scanner, at_north = await paired_scanner(client, db, event_id, north.id)
    _, at_south = await paired_scanner(client, db, event_id, south.id)
    first, second = door["tickets"]
    assert (await scan(client, first["code"], at_north, north.id, event_id)).status_code == 200
    assert (await scan(client, second["code"], at_south, south.id, event_id)).status_code == 200
    assert (await scan(client, first["code"], at_south, south.id, event_id)).status_code == 409
    admit_first, admit_second, again = await rows(db, CheckIn)

    everything = await client.get(f"/admin/door/scans?event_id={event_id}")
    assert everything.status_code == 200
    assert scan_log_ids(everything.text) == [again.id, admit_second.id, admit_first.id]
    by_gate = await client.get(f"/admin/door/scans?event_id={event_id}&gate_id={south.id}")
    assert scan_log_ids(by_gate.text) == [again.id, admit_second.id]
    by_scanner = await client.get(f"/admin/door/scans?scanner_id={north_scanner.id}")
    assert scan_log_ids(by_scanner.text) == [admit_first.id]
    by_result = await client.get(f"/admin/door/scans?event_id={event_id}&result=already_used")
    assert scan_log_ids(by_result.text) == [again.id]
    since = admit_first.scanned_at.strftime("%Y-%m-%dT%H:%M:%S")
    in_range = await client.get(f"/admin/door/scans?from={since}&until=2999-01-01T00:00")
    assert scan_log_ids(in_range.text) == [again.id, admit_second.id, admit_first.id]
    until_first = await client.get(f"/admin/door/scans?until={since}")
    assert scan_log_ids(until_first.text) == []  # the end is excluded
    before = await client.get("/admin/door/scans?until=2000-01-01T00:00&from=1999-01-01T00:00")
    assert scan_log_ids(before.text) == []

    undone = await client.post(
        f"/admin/door/check-ins/{admit_first.id}/revert",
        data={"event_id": str(event_id), "gate_id": str(north.id)},
        follow_redirects=False,
    )
    assert undone.status_code == 303
    assert undone.headers["location"].endswith(f"/admin/door/scans?event_id={event_id}&gate_id={north.id}")
    async with db() as session:
        ticket = await session.get(Ticket, first["id"])
        assert (ticket.status, ticket.used_at) == ("active", None)
        revert = await session.scalar(select(CheckIn).where(CheckIn.reverts_id == admit_first.id))
        assert revert.result == "reverted"
        assert revert.scanned_by_id == door["admin_id"]
    page = (await client.get(f"/admin/door/scans?event_id={event_id}")).text
    assert f'data-undo="{admit_first.id}"' not in page
    assert f'data-undo="{admit_second.id}"' in page
    assert "may enter again" in page

    twice = await client.post(f"/admin/door/check-ins/{admit_first.id}/revert")
    refused_scan = await client.post(f"/admin/door/check-ins/{again.id}/revert")
    assert (twice.status_code, refused_scan.status_code) == (409, 409)
    assert len(await rows(db, CheckIn)) == 4
    assert (await gate_counts(db, north.id))[0] == 0
    assert (await gate_counts(db, south.id))[0] == 1


@pytest.mark.parametrize(
    "query",
    [
        "result=bogus",
        "event_id=abc",
        "gate_id=-1",
        "from=yesterday",
        "until=2026-13-01T00:00",
        "from=0001-01-01T00:00%2B01:00",  # before datetime.min in UTC
        "until=9999-12-31T23:00-05:00",  # after datetime.max in UTC
        "page=0",
        "page=x",
        "page=%C2%B2",
        "page=" + "9" * 5000,
    ],
)
async def test_bad_scan_log_filters_are_400(client, door, query) -> None:
    assert (await client.get(f"/admin/door/scans?{query}")).status_code == 400


async def test_forms_from_elsewhere_change_nothing(client, db, door) -> None:
    event_id = door["event"]["id"]
    await add_gate(client, event_id)
    scanner, _ = await paired_scanner(client, db, event_id, (await rows(db, Gate))[0].id)
    foreign = {"Origin": "https://evil.example"}
    attempts = [
        (f"/admin/door/events/{event_id}/gates", {"name": "Evil"}),
        (f"/admin/door/events/{event_id}/scanners", {"name": "Evil", "hours": "1"}),
        (f"/admin/door/scanners/{scanner.id}/revoke", {}),
        (f"/admin/door/gates/{scanner.gate_id}", {"name": "Evil"}),
    ]
    for path, form in attempts:
        assert (await client.post(path, data=form, headers=foreign)).status_code == 403
    assert [g.name for g in await rows(db, Gate)] == ["North"]
    assert [(s.name, s.revoked_at) for s in await rows(db, Scanner)] == [("Phone 1", None)]


async def test_the_desk_finds_tickets(client, db, door) -> None:
    event_id = door["event"]["id"]
    holder: Actor = door["holder"]
    first, second = door["tickets"]
    for q in ("ada love", holder.email.upper(), str(door["order"]["id"])):
        page = await client.get(f"/admin/door/desk?event_id={event_id}&q={q}")
        assert page.status_code == 200
        assert re.findall(r'data-ticket-id="(\d+)"', page.text) == [str(first["id"]), str(second["id"])]
        assert "Ada Lovelace" in page.text
    nothing = await client.get(f"/admin/door/desk?event_id={event_id}&q=nobody-here")
    assert "No ticket of this event matches." in nothing.text
    digits = await client.get(f"/admin/door/desk?event_id={event_id}&q=%C2%B2")
    assert digits.status_code == 200  # "²" is a digit to str.isdigit(), not to int()
    short = await client.get(f"/admin/door/desk?event_id={event_id}&q=a")
    assert 'id="desk-note"' in short.text
    assert first["code"] not in (await client.get(f"/admin/door/desk?event_id={event_id}&q=ada")).text
    assert (await client.get("/admin/door/desk?event_id=999999&q=ada")).status_code == 404
    assert (await client.get(f"/admin/door/desk?event_id={event_id}&q={'x' * 201}")).status_code == 400


async def test_staff_may_open_the_desk_and_nothing_else(client, db, door) -> None:
    event_id = door["event"]["id"]
    await client.get("/admin/logout")
    staff = await make_actor(client, db, role="staff")
    assert (await log_in(client, staff.email, staff.password)).status_code == 302

    home = await client.get("/admin/", follow_redirects=True)
    assert str(home.url).endswith("/admin/door/desk")
    assert "Dashboard" not in home.text
    assert "Users" not in home.text
    found = await client.get(f"/admin/door/desk?event_id={event_id}&q=ada")
    assert re.findall(r'data-ticket-id="(\d+)"', found.text) == [str(t["id"]) for t in door["tickets"]]
    assert "/admin/ticket/details/" not in found.text
    for path in (
        "/admin/dashboard",
        "/admin/user/list",
        "/admin/ticket/list",
        f"/admin/door/events/{event_id}",
        "/admin/door/scans",
        f"/admin/dashboard/events/{event_id}/tickets.csv",
    ):
        assert (await client.get(path, follow_redirects=False)).status_code == 403, path
    assert (await add_gate(client, event_id)).status_code == 403
    assert await rows(db, Gate) == []


async def test_the_desk_scans_with_the_gate_rules_of_the_api(app, client, db, admin, door) -> None:
    """One cache of gate rules per process: the back office holds the one the API's scans use, and
    a change of a gate through the API applies to the desk's next scan."""
    event_id = door["event"]["id"]
    types_url = f"/events/{event_id}/ticket-types"
    balcony = (await client.post(types_url, json={"name": "Balcony"}, headers=admin.headers)).json()
    (stalls,) = [
        t for t in (await client.get(types_url, headers=admin.headers)).json() if t["id"] != balcony["id"]
    ]
    gate = await client.post(
        f"/events/{event_id}/gates",
        json={"name": "Upstairs", "ticket_type_ids": [balcony["id"]]},
        headers=admin.headers,
    )
    assert gate.status_code == 201, gate.text
    gate_id = gate.json()["id"]
    assert app.plugins.get(AdminPlugin).checkin.gate_rules is app.state[STATE_KEY].gate_rules
    first, second = door["tickets"]  # of the event's own type, "stalls"
    form = {"event_id": str(event_id), "gate_id": str(gate_id)}

    refused = await client.post(f"/admin/door/desk/tickets/{first['id']}/admit", data=form)
    assert "Ada Lovelace not admitted: wrong gate." in refused.text
    changed = await client.patch(
        f"/gates/{gate_id}", json={"ticket_type_ids": [stalls["id"]]}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    admitted = await client.post(f"/admin/door/desk/tickets/{second['id']}/admit", data=form)
    assert "Ada Lovelace admitted." in admitted.text
    assert await gate_counts(db, gate_id) == (1, 1, 1)  # admitted, inside, refused
    async with db() as session:
        assert (await session.get(Ticket, first["id"])).status == "active"


async def test_the_door_speaks_spanish(client, db, door) -> None:
    await client.get("/admin/logout")
    organiser = await make_actor(client, db, role="admin")
    assert (await client.patch("/me", json={"locale": "es"}, headers=organiser.headers)).status_code == 200
    assert (await log_in(client, organiser.email, organiser.password)).status_code == 302
    page = await client.get(f"/admin/door/events/{door['event']['id']}")
    assert "Puertas" in page.text
    assert "Añadir una puerta" in page.text


async def test_staff_admit_at_the_desk_as_a_scan_would(client, db, door) -> None:
    event_id = door["event"]["id"]
    await add_gate(client, event_id, name="Desk")
    [gate] = await rows(db, Gate)
    await client.get("/admin/logout")
    staff = await make_actor(client, db, role="staff")
    assert (await log_in(client, staff.email, staff.password)).status_code == 302
    first, second = door["tickets"]
    found = await client.get(f"/admin/door/desk?event_id={event_id}&gate_id={gate.id}&q=ada")
    assert f'data-admit="{first["id"]}"' in found.text

    form = {"event_id": str(event_id), "gate_id": str(gate.id), "q": "ada"}
    admitted = await client.post(
        f"/admin/door/desk/tickets/{first['id']}/admit", data=form, follow_redirects=False
    )
    assert admitted.status_code == 303
    assert admitted.headers["location"].endswith(
        f"/admin/door/desk?event_id={event_id}&gate_id={gate.id}&q=ada"
    )
    assert "Ada Lovelace admitted." in (await client.get(admitted.headers["location"])).text
    again = await client.post(f"/admin/door/desk/tickets/{first['id']}/admit", data=form)
    assert "Ada Lovelace not admitted: already used." in again.text
    assert f'data-admit="{first["id"]}"' not in again.text
    scans = await rows(db, CheckIn)
    assert [(s.ticket_id, s.result, s.scanned_by_id, s.gate_id) for s in scans] == [
        (first["id"], "valid", staff.id, gate.id),
        (first["id"], "already_used", staff.id, gate.id),
    ]
    assert (await gate_counts(db, gate.id))[0] == 1

    other = await make_event(client, await make_actor(client, db, role="admin"), title="Other")
    wrong_event = await client.post(
        f"/admin/door/desk/tickets/{second['id']}/admit", data={"event_id": str(other["id"])}
    )
    bad_gate = await client.post(
        f"/admin/door/desk/tickets/{second['id']}/admit", data={"event_id": str(event_id), "gate_id": "x"}
    )
    foreign = await client.post(
        f"/admin/door/desk/tickets/{second['id']}/admit",
        data={"event_id": str(event_id)},
        headers={"Origin": "https://evil.example"},
    )
    assert (wrong_event.status_code, bad_gate.status_code, foreign.status_code) == (404, 400, 403)
    assert len(await rows(db, CheckIn)) == 2
    async with db() as session:
        assert (await session.get(Ticket, second["id"])).status == "active"


async def test_pickers_offer_the_coming_events_first_however_many_are_past(client, db, door) -> None:
    """501 past events and tonight's: every picker of the door and sales pages offers tonight's
    event, the latest first."""
    now = dt.datetime.now(dt.UTC)
    async with db() as session:
        session.add_all(
            Event(title=f"Past {n}", venue="Old Hall", starts_at=now - dt.timedelta(days=n + 1), capacity=10)
            for n in range(501)
        )
        await session.commit()
    tonight = door["event"]
    address = f'<option value="{tonight["id"]}"'
    for page in ("/admin/door/desk", "/admin/door/scans", "/admin/door/duplicates"):
        answer = await client.get(page)
        assert answer.status_code == 200, page
        assert address in answer.text, page
        assert answer.text.index(address) < answer.text.index(">Past 0 ("), page  # latest first
    for page in ("/admin/door", "/admin/sales"):
        answer = await client.get(page)
        assert answer.status_code == 200, page
        assert f'data-event-id="{tonight["id"]}"' in answer.text, page
    async with db() as session:
        assert await session.scalar(select(func.count(Event.id))) == 502
