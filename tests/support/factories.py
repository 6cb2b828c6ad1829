"""polyfactory factories for API bodies, with values a real organiser would send."""

from __future__ import annotations

import datetime as dt
from typing import Any

from polyfactory import Use
from polyfactory.factories.msgspec_factory import MsgspecFactory

from ticketflow.domain.accounts.schemas import UserCreate
from ticketflow.domain.events.schemas import EventCreate


def in_days(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


def unique_email() -> str:
    user_name = MsgspecFactory.__faker__.user_name()
    return f"{user_name}.{MsgspecFactory.__random__.randint(1, 10**9)}@example.com"


class UserCreateFactory(MsgspecFactory[UserCreate]):
    __check_model__ = False
    name = Use(MsgspecFactory.__faker__.name)
    email = Use(unique_email)
    password = Use(lambda: MsgspecFactory.__faker__.password(length=14))
    role = "attendee"


class EventCreateFactory(MsgspecFactory[EventCreate]):
    __check_model__ = False
    title = Use(lambda: MsgspecFactory.__faker__.catch_phrase()[:200])
    venue = Use(lambda: f"{MsgspecFactory.__faker__.company()}, {MsgspecFactory.__faker__.city()}"[:200])
    description = Use(MsgspecFactory.__faker__.paragraph)
    starts_at = Use(lambda: in_days(30))
    ends_at = None
    capacity = 100
    price_cents = 0
    currency = "EUR"
    max_per_order = 10
    timezone = "Europe/Paris"
    sales_start_at = None
    sales_end_at = None


def event_body(**overrides: Any) -> dict[str, Any]:
    """A JSON-ready event body."""
    event = EventCreateFactory.build()
    body: dict[str, Any] = {
        "title": event.title,
        "venue": event.venue,
        "description": event.description,
        "starts_at": event.starts_at.isoformat(),
        "capacity": event.capacity,
        "price_cents": event.price_cents,
        "currency": event.currency,
        "max_per_order": event.max_per_order,
        "timezone": event.timezone,
    }
    for key, value in overrides.items():
        body[key] = value.isoformat() if isinstance(value, dt.datetime) else value
    return body


def user_body(**overrides: Any) -> dict[str, Any]:
    user = UserCreateFactory.build()
    body: dict[str, Any] = {"name": user.name, "email": user.email, "password": user.password}
    body.update(overrides)
    return body
