"""Forms of the back office and their translation into the API's own input types.

The WTForms validators catch the obvious mistakes early; every value then goes through the
same msgspec schema as the API (`UserCreate`, `EventCreate`), so the back office accepts
exactly what the API accepts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, available_timezones

import msgspec
from starlette.exceptions import HTTPException
from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    Form,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateTimeLocalField
from wtforms.i18n import get_translations
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from ticketflow.db.models.events import DESCRIPTION_MAX, TITLE_MAX, VENUE_MAX, Event
from ticketflow.db.models.gates import GATE_NAME_MAX, SCANNER_NAME_MAX, Gate
from ticketflow.db.models.ticket_types import TYPE_DESCRIPTION_MAX, TYPE_NAME_MAX, TicketType
from ticketflow.db.models.users import EMAIL_MAX, NAME_MAX, Role
from ticketflow.db.models.vouchers import VoucherKind
from ticketflow.domain.accounts.schemas import PASSWORD_MAX, PASSWORD_MIN
from ticketflow.domain.checkin.door import SCANNER_DEFAULT_LIFETIME, SCANNER_LONGEST_LIFETIME
from ticketflow.domain.events.schemas import MAX_CAPACITY, MAX_PER_ORDER_LIMIT, MAX_PRICE_CENTS
from ticketflow.lib.errors import Phrase
from ticketflow.lib.i18n import N_, current_language, gettext_for, lazy_gettext

T = TypeVar("T")

LOCAL_TIME_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
EVENT_TIMES = ("starts_at", "ends_at", "sales_start_at", "sales_end_at")
EVENT_VALUES = (
    "title",
    "venue",
    "description",
    "timezone",
    "capacity",
    "price_cents",
    "currency",
    "max_per_order",
    *EVENT_TIMES,
)
ERROR_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$\.(?P<field>\w+)`)?$", re.DOTALL)
SCHEMA_MESSAGES = (
    (re.compile(r"^Expected `(?:int|float|decimal)` <= (?P<limit>\S+)$"), N_("must be at most %(limit)s")),
    (re.compile(r"^Expected `(?:int|float|decimal)` >= (?P<limit>\S+)$"), N_("must be at least %(limit)s")),
    (re.compile(r"^Expected `str` of length <= (?P<limit>\d+)$"), N_("at most %(limit)s characters")),
    (re.compile(r"^Expected `str` of length >= (?P<limit>\d+)$"), N_("at least %(limit)s characters")),
    (re.compile(r"^Expected `str` matching regex"), N_("not a valid value")),
    (re.compile(r"^Invalid enum value"), N_("not one of the choices")),
)
"""The API schema's refusals a form meets, in the admin's language (others are shown as msgspec
writes them)."""


def http_refusal(status_code: int, text: str, **values: Any) -> HTTPException:
    """A page's refusal (its status and text) in the admin's language: `text` marked with `N_`,
    `values` filling its `%(name)s` placeholders; SQLAdmin's error page shows it."""
    return HTTPException(status_code, Phrase(text, values).written(gettext_for(current_language())))


def not_found() -> HTTPException:
    return http_refusal(404, N_("not found"))


class AdminInputError(ValueError):
    """Input the back office refuses; its text is shown above the form."""


def convert(values: dict[str, Any], schema: type[T]) -> T:
    """`values` checked by the API schema `schema`, or `AdminInputError` with a readable reason."""
    try:
        return msgspec.convert(values, schema)
    except msgspec.ValidationError as exc:
        match = ERROR_PATH.match(str(exc))
        field = match.group("field") if match else None
        message = schema_message(match.group("message") if match else str(exc))
        raise AdminInputError(f"{field}: {message}" if field else message) from exc


def schema_message(message: str) -> str:
    """A msgspec refusal as the form shows it: a known one in the admin's language."""
    for pattern, text in SCHEMA_MESSAGES:
        if found := pattern.match(message):
            return gettext_for(current_language())(text) % found.groupdict()
    return message.replace("`", "")


@cache
def wtforms_messages(language: str) -> Any:
    """WTForms' own catalogue of its messages ("This field is required.") for `language`."""
    return get_translations([language])


class AdminForm(Form):  # type: ignore[misc]
    """A back office form: WTForms' own messages in the admin's language, as the labels."""

    class Meta:
        def get_translations(self, form: Form) -> Any:
            return wtforms_messages(current_language())


NO_CONTROL_CHARACTERS = Regexp(
    r"^[^\x00-\x1f\x7f]*$", message=lazy_gettext("Control characters are not allowed.")
)


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def form_errors(form: Form) -> str:
    """A form's errors as one line for the top of the page."""
    return "; ".join(
        f"{form[name].label.text}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
    )


class UserCreateForm(AdminForm):
    name = StringField(
        lazy_gettext("Name"), [InputRequired(), Length(max=NAME_MAX), NO_CONTROL_CHARACTERS], filters=[strip]
    )
    email = EmailField(lazy_gettext("E-mail"), [InputRequired(), Length(max=EMAIL_MAX)], filters=[strip])
    password = PasswordField(
        lazy_gettext("Password"), [InputRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)]
    )
    role = SelectField(
        lazy_gettext("Role"),
        choices=[
            (Role.STAFF.value, lazy_gettext("Door staff")),
            (Role.ADMIN.value, lazy_gettext("Admin")),
            (Role.ATTENDEE.value, lazy_gettext("Attendee")),
        ],
        default=Role.STAFF.value,
    )


@cache
def time_zone_choices() -> tuple[str, ...]:
    """Read from the system's zone files once (~10 ms), not on every form."""
    return tuple(sorted(available_timezones()))


class EventForm(AdminForm):
    title = StringField(
        lazy_gettext("Title"),
        [InputRequired(), Length(max=TITLE_MAX), NO_CONTROL_CHARACTERS],
        filters=[strip],
    )
    venue = StringField(
        lazy_gettext("Venue"),
        [InputRequired(), Length(max=VENUE_MAX), NO_CONTROL_CHARACTERS],
        filters=[strip],
    )
    description = TextAreaField(lazy_gettext("Description"), [Optional(), Length(max=DESCRIPTION_MAX)])
    timezone = SelectField(lazy_gettext("Time zone of the venue"), choices=time_zone_choices, default="UTC")
    starts_at = DateTimeLocalField(
        lazy_gettext("Starts (venue time)"), [InputRequired()], format=LOCAL_TIME_FORMATS
    )
    ends_at = DateTimeLocalField(lazy_gettext("Ends (venue time)"), [Optional()], format=LOCAL_TIME_FORMATS)
    sales_start_at = DateTimeLocalField(
        lazy_gettext("Sales open (venue time)"), [Optional()], format=LOCAL_TIME_FORMATS
    )
    sales_end_at = DateTimeLocalField(
        lazy_gettext("Sales close (venue time)"), [Optional()], format=LOCAL_TIME_FORMATS
    )
    capacity = IntegerField(lazy_gettext("Capacity"), [InputRequired(), NumberRange(1, MAX_CAPACITY)])
    price_cents = IntegerField(
        lazy_gettext("Price in cents (0 = free)"), [Optional(), NumberRange(0, MAX_PRICE_CENTS)], default=0
    )
    currency = StringField(lazy_gettext("Currency"), [InputRequired(), Regexp(r"^[A-Z]{3}$")], default="EUR")
    max_per_order = IntegerField(
        lazy_gettext("Tickets per order at most"),
        [Optional(), NumberRange(1, MAX_PER_ORDER_LIMIT)],
        default=10,
    )


def venue_times(values: dict[str, Any], names: Sequence[str], timezone: str) -> None:
    """Venue-local times of a form (naive) made aware, in place."""
    zone = ZoneInfo(timezone)
    for name in names:
        local: dt.datetime | None = values[name]
        values[name] = local.replace(tzinfo=zone) if local is not None else None


def local_times(values: dict[str, Any], names: Sequence[str], timezone: str) -> None:
    """Stored times shown in the venue's zone, as a form's naive values, in place."""
    zone = ZoneInfo(timezone)
    for name in names:
        value: dt.datetime | None = values[name]
        values[name] = value.astimezone(zone).replace(tzinfo=None) if value is not None else None


def event_values(data: dict[str, Any]) -> dict[str, Any]:
    """Form data as the body of `POST /events`: venue-local times made aware."""
    values = {name: data.get(name) for name in EVENT_VALUES}
    venue_times(values, EVENT_TIMES, data["timezone"])
    values["description"] = values["description"] or ""
    if values["price_cents"] is None:
        values["price_cents"] = 0
    if values["max_per_order"] is None:
        values["max_per_order"] = 10
    return values


def event_form_data(event: Event) -> dict[str, Any]:
    """The edit form's initial values: times shown in the venue's zone."""
    data = {name: getattr(event, name) for name in EVENT_VALUES}
    local_times(data, EVENT_TIMES, event.timezone)
    return data


class GateForm(AdminForm):
    """A gate: its name, the event's ticket types it admits (none ticked: all), re-entry."""

    name = StringField(
        lazy_gettext("Name"),
        [InputRequired(), Length(max=GATE_NAME_MAX), NO_CONTROL_CHARACTERS],
        filters=[strip],
    )
    ticket_type_ids = SelectMultipleField(
        lazy_gettext("Admits (none ticked: every ticket type)"), coerce=int, validate_choice=True
    )
    allow_reentry = BooleanField(lazy_gettext("Re-entry allowed (a scan out lets the ticket in again)"))

    def __init__(
        self, formdata: Any = None, *, type_choices: Sequence[TicketType], obj: Gate | None = None
    ) -> None:
        super().__init__(formdata, obj=obj)
        self.ticket_type_ids.choices = [(t.id, t.name) for t in type_choices]

    def values(self) -> dict[str, Any]:
        """The body of `POST /events/{id}/gates`."""
        return {
            "name": self.name.data,
            "ticket_type_ids": list(self.ticket_type_ids.data or []),
            "allow_reentry": bool(self.allow_reentry.data),
        }


class ScannerForm(AdminForm):
    """A scanner device: its name, the gate it scans at (or any), how long it may scan."""

    name = StringField(
        lazy_gettext("Name"),
        [InputRequired(), Length(max=SCANNER_NAME_MAX), NO_CONTROL_CHARACTERS],
        filters=[strip],
    )
    gate_id = SelectField(lazy_gettext("Gate"), coerce=str, validate_choice=True)
    hours = IntegerField(
        lazy_gettext("Scans for (hours)"),
        [InputRequired(), NumberRange(1, int(SCANNER_LONGEST_LIFETIME / dt.timedelta(hours=1)))],
        default=int(SCANNER_DEFAULT_LIFETIME / dt.timedelta(hours=1)),
    )

    def __init__(self, formdata: Any = None, *, gate_choices: Sequence[Gate]) -> None:
        super().__init__(formdata)
        self.gate_id.choices = [("", lazy_gettext("Any gate")), *((str(g.id), g.name) for g in gate_choices)]

    def values(self, now: dt.datetime) -> dict[str, Any]:
        """The body of `POST /events/{id}/scanners`."""
        return {
            "name": self.name.data,
            "gate_id": int(self.gate_id.data) if self.gate_id.data else None,
            "expires_at": now + dt.timedelta(hours=self.hours.data),
        }


TYPE_TIMES = ("sales_start_at", "sales_end_at")
TYPE_VALUES = (
    "name",
    "description",
    "price_cents",
    "tax_rate",
    "capacity",
    "max_per_order",
    *TYPE_TIMES,
    "hidden",
    "position",
    "active",
)


class TicketTypeForm(AdminForm):
    """A ticket type; limits are checked by `TicketTypeCreate`, as for the API."""

    name = StringField(
        lazy_gettext("Name"),
        [InputRequired(), Length(max=TYPE_NAME_MAX), NO_CONTROL_CHARACTERS],
        filters=[strip],
    )
    description = TextAreaField(lazy_gettext("Description"), [Optional(), Length(max=TYPE_DESCRIPTION_MAX)])
    price_cents = IntegerField(
        lazy_gettext("Price in cents (0 = free)"), [Optional(), NumberRange(0, MAX_PRICE_CENTS)], default=0
    )
    tax_rate = DecimalField(
        lazy_gettext("Tax rate included (percent)"), [Optional(), NumberRange(0, 100)], places=2, default=0
    )
    capacity = IntegerField(
        lazy_gettext("Capacity of its own (empty: the event's)"), [Optional(), NumberRange(1, MAX_CAPACITY)]
    )
    max_per_order = IntegerField(
        lazy_gettext("Per order at most (empty: the event's)"),
        [Optional(), NumberRange(1, MAX_PER_ORDER_LIMIT)],
    )
    sales_start_at = DateTimeLocalField(
        lazy_gettext("Sales open (venue time)"), [Optional()], format=LOCAL_TIME_FORMATS
    )
    sales_end_at = DateTimeLocalField(
        lazy_gettext("Sales close (venue time)"), [Optional()], format=LOCAL_TIME_FORMATS
    )
    hidden = BooleanField(lazy_gettext("Hidden (sold only with a voucher that unlocks it)"))
    position = IntegerField(lazy_gettext("Position (empty: last)"), [Optional(), NumberRange(0, 10_000)])
    active = BooleanField(lazy_gettext("On sale (active)"), default=True)

    def values(self, timezone: str) -> dict[str, Any]:
        """The body of `POST /events/{id}/ticket-types`: venue-local times made aware."""
        values = {name: self[name].data for name in TYPE_VALUES}
        venue_times(values, TYPE_TIMES, timezone)
        values["description"] = values["description"] or ""
        values["price_cents"] = values["price_cents"] or 0
        values["tax_rate"] = float(values["tax_rate"] or 0)
        values["hidden"] = bool(values["hidden"])
        values["active"] = bool(values["active"])
        return values


def ticket_type_form_data(ticket_type: TicketType, timezone: str) -> dict[str, Any]:
    data = {name: getattr(ticket_type, name) for name in TYPE_VALUES}
    local_times(data, TYPE_TIMES, timezone)
    return data


VOUCHER_TIMES = ("valid_from", "valid_until")


class VoucherForm(AdminForm):
    """One voucher with a code, or `count` alike with random codes; limits checked by `VoucherCreate`."""

    code = StringField(lazy_gettext("Code (empty: random codes)"), [Optional()], filters=[strip])
    count = IntegerField(lazy_gettext("How many random codes"), [Optional(), NumberRange(1, 1000)])
    kind = SelectField(
        lazy_gettext("Kind"),
        choices=[
            (VoucherKind.PERCENT.value, lazy_gettext("Percentage off")),
            (VoucherKind.AMOUNT.value, lazy_gettext("Amount off (cents)")),
            (VoucherKind.FIXED_PRICE.value, lazy_gettext("Fixed price (cents)")),
        ],
    )
    value = IntegerField(lazy_gettext("Value (percent or cents)"), [Optional(), NumberRange(0)], default=0)
    ticket_type_ids = SelectMultipleField(
        lazy_gettext("Valid for (none ticked: every ticket type)"), coerce=int, validate_choice=True
    )
    max_uses = IntegerField(
        lazy_gettext("Uses at most (empty: unlimited)"), [Optional(), NumberRange(1)], default=1
    )
    valid_from = DateTimeLocalField(
        lazy_gettext("Valid from (venue time)"), [Optional()], format=LOCAL_TIME_FORMATS
    )
    valid_until = DateTimeLocalField(
        lazy_gettext("Valid until (venue time)"), [Optional()], format=LOCAL_TIME_FORMATS
    )
    unlocks_hidden = BooleanField(lazy_gettext("Unlocks hidden ticket types"))

    def __init__(
        self, formdata: Any = None, *, type_choices: Sequence[TicketType], editing: bool = False, **data: Any
    ) -> None:
        super().__init__(formdata, **data)
        self.ticket_type_ids.choices = [(t.id, t.name) for t in type_choices]
        if editing:  # the code of a voucher stays; no codes are made
            del self.code
            del self.count

    def values(self, timezone: str) -> dict[str, Any]:
        """The body of `POST /events/{id}/vouchers` (without `code` and `count` when editing)."""
        names = [f.name for f in self]
        values = {name: self[name].data for name in names}
        venue_times(values, VOUCHER_TIMES, timezone)
        values["value"] = values["value"] or 0
        values["ticket_type_ids"] = list(values["ticket_type_ids"] or [])
        values["unlocks_hidden"] = bool(values["unlocks_hidden"])
        if "code" in values:
            values["code"] = values["code"] or None
        return values


def voucher_form_data(voucher: Any, ticket_type_ids: list[int], timezone: str) -> dict[str, Any]:
    data = {
        name: getattr(voucher, name)
        for name in ("kind", "value", "max_uses", *VOUCHER_TIMES, "unlocks_hidden")
    }
    local_times(data, VOUCHER_TIMES, timezone)
    data["ticket_type_ids"] = ticket_type_ids
    return data
