"""What the door answers for a scanned ticket, without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from ticketflow.db.models.checkins import InvalidReason, ScanResult
from ticketflow.db.models.events import EventStatus
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.domain.checkin.service import DEVICE_SEEN_EVERY, invalid_reason, scan_outcome, seen_due
from ticketflow.domain.checkin.statements import GateChange, GateCounters, ScannedTicket

NOW = dt.datetime(2030, 5, 1, 20, 0, tzinfo=dt.UTC)
EVENT_ID = 7
TYPE_ID = 3


def scanned(
    status: str = TicketStatus.ACTIVE,
    event_status: str = EventStatus.SCHEDULED,
    used_at: dt.datetime | None = None,
) -> ScannedTicket:
    return ScannedTicket(
        id=1,
        status=status,
        event_id=EVENT_ID,
        event_title="Jazz Night",
        event_status=event_status,
        holder_name="Ada",
        used_at=used_at,
        order_id=1,
        user_id=1,
        created_at=NOW,
        ticket_type_id=TYPE_ID,
    )


def test_an_unknown_code_is_invalid_with_reason_unknown() -> None:
    outcome = scan_outcome(None, admitted=False, door_event_id=None, now=NOW)
    assert (outcome.result, outcome.reason, outcome.ticket, outcome.scanned_at) == (
        ScanResult.INVALID,
        InvalidReason.UNKNOWN,
        None,
        NOW,
    )


@pytest.mark.parametrize("door_event_id", [None, EVENT_ID])
def test_an_admitted_ticket_is_valid(door_event_id: int | None) -> None:
    ticket = scanned(TicketStatus.USED, used_at=NOW)
    outcome = scan_outcome(ticket, admitted=True, door_event_id=door_event_id, now=NOW)
    assert (outcome.result, outcome.reason, outcome.ticket) == (ScanResult.VALID, None, ticket)


def test_a_ticket_used_before_is_already_used() -> None:
    ticket = scanned(TicketStatus.USED, used_at=NOW - dt.timedelta(minutes=5))
    outcome = scan_outcome(ticket, admitted=False, door_event_id=EVENT_ID, now=NOW)
    assert (outcome.result, outcome.reason, outcome.ticket) == (ScanResult.ALREADY_USED, None, ticket)


@pytest.mark.parametrize(
    ("ticket", "door_event_id", "reason"),
    [
        (scanned(TicketStatus.CANCELLED), None, InvalidReason.CANCELLED),
        (scanned(TicketStatus.PENDING), None, InvalidReason.UNPAID),
        (scanned(TicketStatus.ACTIVE), EVENT_ID + 1, InvalidReason.WRONG_EVENT),
        (scanned(TicketStatus.ACTIVE, EventStatus.CANCELLED), None, InvalidReason.EVENT_CANCELLED),
        (scanned(TicketStatus.CANCELLED, EventStatus.CANCELLED), None, InvalidReason.EVENT_CANCELLED),
        # The wrong door is said first: that holder is in the wrong place, whatever the ticket.
        (scanned(TicketStatus.CANCELLED, EventStatus.CANCELLED), EVENT_ID + 1, InvalidReason.WRONG_EVENT),
        (scanned(TicketStatus.USED, used_at=NOW), EVENT_ID + 1, InvalidReason.WRONG_EVENT),
    ],
)
def test_a_refused_ticket_is_invalid_with_its_reason(
    ticket: ScannedTicket, door_event_id: int | None, reason: InvalidReason
) -> None:
    assert invalid_reason(ticket, door_event_id) == reason
    outcome = scan_outcome(ticket, admitted=False, door_event_id=door_event_id, now=NOW)
    assert (outcome.result, outcome.reason, outcome.ticket) == (ScanResult.INVALID, reason, ticket)


def test_a_used_ticket_at_its_own_door_has_no_invalid_reason() -> None:
    assert invalid_reason(scanned(TicketStatus.USED, used_at=NOW), EVENT_ID) is None


def test_a_type_the_gate_does_not_admit_is_wrong_gate_after_the_ticket_own_refusals() -> None:
    balcony = (TYPE_ID + 1,)
    assert invalid_reason(scanned(TicketStatus.ACTIVE), EVENT_ID, balcony) == InvalidReason.WRONG_GATE
    assert (
        invalid_reason(scanned(TicketStatus.USED, used_at=NOW), EVENT_ID, balcony) == InvalidReason.WRONG_GATE
    )
    assert invalid_reason(scanned(TicketStatus.CANCELLED), EVENT_ID, balcony) == InvalidReason.CANCELLED
    assert invalid_reason(scanned(TicketStatus.USED, used_at=NOW), EVENT_ID, (TYPE_ID,)) is None
    outcome = scan_outcome(scanned(TicketStatus.ACTIVE), False, EVENT_ID, NOW, balcony)
    assert (outcome.result, outcome.reason) == (ScanResult.INVALID, InvalidReason.WRONG_GATE)


@pytest.mark.parametrize(
    ("last_seen_at", "due"),
    [
        (None, True),
        (NOW - DEVICE_SEEN_EVERY, True),
        (NOW - DEVICE_SEEN_EVERY + dt.timedelta(microseconds=1), False),
        (NOW, False),
    ],
)
def test_a_device_last_seen_time_is_written_again_once_a_period_has_passed(
    last_seen_at: dt.datetime | None, due: bool
) -> None:
    assert seen_due(last_seen_at, NOW) is due


def test_a_gate_answer_adds_the_scan_own_change_at_its_gate_then_clamps_inside() -> None:
    rows = ((3, 1, 0), (1, -2, 2))  # a row goes below zero when tickets leave through it
    assert GateCounters.of_rows(5, "North", rows) == GateCounters(5, "North", 4, 0, 2)
    assert GateCounters.of_rows(5, "North", rows, GateChange(5, 1, 0, 1)) == GateCounters(5, "North", 5, 0, 2)
    assert GateCounters.of_rows(5, "North", rows, GateChange(6, 1, 1, 1)) == GateCounters(5, "North", 4, 0, 2)
    assert GateCounters.of_rows(5, "North", (), GateChange(5, 0, 1, 0)) == GateCounters(5, "North", 0, 0, 1)
