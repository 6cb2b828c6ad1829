"""The `.ics` invitation (RFC 5545) attached to ticket, change and cancellation e-mails.

The UID is the same for every file about one event, and SEQUENCE grows with every change of the
event, so a calendar that imported the first file updates (or, for a cancellation, removes) its
entry when it receives a newer one. Times are written in UTC; calendars show them locally.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from ticketflow.domain.notifications.letters import EventFacts

PRODUCT_ID = "-//Ticket-Flow//Tickets//EN"


def event_uid(event_id: int, domain: str) -> str:
    return f"event-{event_id}@{domain}"


def event_calendar(event: EventFacts, *, domain: str, now: dt.datetime, description: str) -> bytes:
    """One VEVENT for `event`, `STATUS:CANCELLED` once the event is cancelled."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", event_uid(event.id, domain))
    entry.add("sequence", event.sequence)
    entry.add("dtstamp", now.astimezone(dt.UTC))
    entry.add("dtstart", event.starts_at.astimezone(dt.UTC))
    if event.ends_at is not None:
        entry.add("dtend", event.ends_at.astimezone(dt.UTC))
    entry.add("summary", event.title)
    entry.add("location", event.venue)
    entry.add("description", description)
    entry.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    entry.add("transp", "TRANSPARENT" if event.cancelled else "OPAQUE")
    calendar.add_component(entry)
    return bytes(calendar.to_ical())
