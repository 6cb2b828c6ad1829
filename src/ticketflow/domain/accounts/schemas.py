"""Request and response bodies of the accounts API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from ticketflow.db.models.users import EMAIL_MAX, NAME_MAX, Language, Role
from ticketflow.lib.pagination import Page, schema_name

END = r"$(?!\n)"
"""End of the text: a plain `$` would also match before a final line break."""
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+" + END
INVISIBLE = (
    r"\u00ad\u034f\u061c\u115f\u1160\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164"
    r"\ufe00-\ufe0f\ufeff\uffa0"
)
"""Characters that print as nothing (zero-width spaces and joiners, direction marks and overrides,
the soft hyphen, variation selectors, the blank Braille pattern, fillers): a name of them alone
shows nothing at the door or on a ticket."""
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f" + INVISIBLE + r"][^\x00-\x1f\x7f]*" + END
"""At least one visible character and no control characters (no CR/LF: names end up in mail headers)."""
PASSWORD_MIN = 8
PASSWORD_MAX = 1024

Name = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=PRINTABLE_PATTERN, examples=["Ada Lovelace"]),
]
Email = Annotated[
    str,
    msgspec.Meta(min_length=3, max_length=EMAIL_MAX, pattern=EMAIL_PATTERN, examples=["ada@example.com"]),
]
Password = Annotated[
    str,
    msgspec.Meta(
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description="At least 8 characters.",
        examples=["correct horse battery"],
    ),
]

Locale = Annotated[
    Language,
    msgspec.Meta(
        description="The language of the user's e-mails and pages: `en` (English) or `es` (Spanish).",
        examples=["es"],
    ),
]


NewUserLocale = Annotated[
    Language,
    msgspec.Meta(
        description=(
            "The language of the user's e-mails and pages: `en` (English) or `es` (Spanish). Left out:"
            " at /register the request's `Accept-Language` (English when it names neither), at"
            " /users English."
        ),
        examples=["es"],
    ),
]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new account. `role` other than `attendee` needs an admin's token."""

    name: Name
    email: Email
    password: Password
    role: Role = Role.ATTENDEE
    locale: NewUserLocale | msgspec.UnsetType = msgspec.UNSET


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Changes to one's own account: only the fields sent change."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    locale: Locale | msgspec.UnsetType = msgspec.UNSET


class User(msgspec.Struct):
    """A user as the API shows it (never the password hash)."""

    id: int
    name: str
    email: str
    role: Role
    locale: Locale
    created_at: dt.datetime


UserPage = Annotated[Page[User], schema_name("UserPage")]


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=EMAIL_MAX, examples=["ada@example.com"])]
    password: Annotated[str, msgspec.Meta(max_length=PASSWORD_MAX)]


class AccessToken(msgspec.Struct):
    access_token: str
    expires_in: int
    """Seconds until the token expires."""
    token_type: Literal["bearer"]
