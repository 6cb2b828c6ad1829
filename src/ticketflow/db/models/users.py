"""People who sign in: attendees, door staff and admins."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketflow.db.base import Base, IdMixin, TimestampMixin

NAME_MAX = 120
EMAIL_MAX = 254
PASSWORD_HASH_MAX = 255
LOCALE_MAX = 8


class Role(StrEnum):
    ATTENDEE = "attendee"
    STAFF = "staff"
    ADMIN = "admin"


class Language(StrEnum):
    """The languages a user reads the product in (e-mails, pages, back office)."""

    EN = "en"
    ES = "es"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('attendee', 'staff', 'admin')", name="role_known"),
        CheckConstraint("locale IN ('en', 'es')", name="locale_known"),
    )

    name: Mapped[str] = mapped_column(String(NAME_MAX), nullable=False)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), nullable=False, unique=True)
    """Stored lower-case; unique in the database."""
    password_hash: Mapped[str] = mapped_column(String(PASSWORD_HASH_MAX), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default=Role.ATTENDEE)
    locale: Mapped[str] = mapped_column(
        String(LOCALE_MAX), nullable=False, default=Language.EN, server_default=Language.EN.value
    )
    """The language of the user's e-mails and pages."""

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
