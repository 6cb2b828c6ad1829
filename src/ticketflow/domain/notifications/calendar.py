"""The `.ics` file (RFC 5545) attached to ticket, change and cancellation e-mails.

The UID is the same for every file about one event, and SEQUENCE grows with every change of the
event, so a calendar that imported the first file updates (or, for a cancellation, removes) its
entry when it receives a newer one. Times are written in UTC; calendars show them locally.

In iTIP's words (RFC 5546) the ticket and change files are a `PUBLISH` by the organiser (the
sender, `MAIL_FROM`): an entry with no attendees to answer. The cancellation is a `CANCEL` of the
same UID with a higher SEQUENCE, naming the organiser and the recipient as the attendee it
removes, with `STATUS:CANCELLED`: the form calendar clients act on by deleting the entry (a
`PUBLISH` with `STATUS:CANCELLED` is kept, merely marked).
"""

from __future__ import annotations

import datetime as dt
from email.headerregistry import Address

from icalendar import Calendar, vCalAddress
from icalendar import Event as CalendarEvent

from ticketflow.domain.notifications.letters import EventFacts

PRODUCT_ID = "-//Ticket-Flow//Tickets//EN"


def event_uid(event_id: int, domain: str) -> str:
    return f"event-{event_id}@{domain}"


def calendar_method(event: EventFacts) -> str:
    """The iTIP method of the event's file: `CANCEL` once the event is cancelled, else `PUBLISH`
    (also the `method` parameter of its MIME part)."""
    return "CANCEL" if event.cancelled else "PUBLISH"


def mailto(address: Address) -> vCalAddress:
    who = vCalAddress(f"mailto:{address.addr_spec}")
    if address.display_name:
        who.params["cn"] = address.display_name
    return who


def event_calendar(
    event: EventFacts, *, organizer: Address, attendee: Address, now: dt.datetime, description: str
) -> bytes:
    """One VEVENT for `event`: published while it stands, cancelled (`METHOD:CANCEL`,
    `STATUS:CANCELLED`, `attendee` removed) once it is cancelled."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", calendar_method(event))
    entry = CalendarEvent()
    entry.add("uid", event_uid(event.id, organizer.domain))
    entry.add("organizer", mailto(organizer))
    if event.cancelled:
        entry.add("attendee", mailto(attendee))
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
