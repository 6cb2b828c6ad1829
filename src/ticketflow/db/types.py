"""Column types that behave the same on MySQL/MariaDB and SQLite."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Enum, LargeBinary, String
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


def to_stored_utc(value: dt.datetime) -> dt.datetime:
    """An aware time as the naive UTC value the database stores; naive values are refused."""
    if value.tzinfo is None:
        msg = "naive datetime given to a UTC column"
        raise ValueError(msg)
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def from_stored_utc(value: dt.datetime | str) -> dt.datetime:
    """A stored naive UTC value (SQLite may hand back text) as an aware time."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC with microseconds, returned timezone-aware (UTC).

    MySQL's plain DATETIME drops fractions of a second, so the MySQL variant asks for `fsp=6`.
    Naive values are refused: every time in the application carries its offset.
    """

    impl = DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        return None if value is None else to_stored_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else from_stored_utc(value)


def state_column(states: type[StrEnum], length: int = 16) -> Enum:
    """A state column: `VARCHAR(length)` in the database, a member of `states` in Python.

    The values (not the member names) are stored, so the rows, the CHECK constraints and the
    hand-written statements of the hot paths all read the same words. The table's CHECK
    constraint refuses a value outside `states`; a comparison with an unknown word (a filter
    typed into a URL) simply matches nothing instead of failing in Python.
    """
    return Enum(
        states,
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=False,
        values_callable=lambda members: [member.value for member in members],
    )


def secret_digest(length: int = 32) -> TypeEngine[bytes]:
    """A digest of a secret: fixed-length BINARY on MySQL/MariaDB (compared byte for byte, can be
    unique), BLOB on SQLite."""
    return LargeBinary(length).with_variant(mysql.BINARY(length), "mysql", "mariadb")


MARIADB_EXACT_COLLATION = "utf8mb4_nopad_bin"
"""MariaDB: its `_bin` collations still ignore trailing spaces; the `_nopad_bin` ones do not."""
MYSQL_EXACT_COLLATION = "utf8mb4_0900_bin"
"""MySQL 8: binary and NO PAD."""


def exact_collation(dialect: Dialect) -> str:
    """The collation under which two strings are equal only when their bytes are."""
    return MARIADB_EXACT_COLLATION if getattr(dialect, "is_mariadb", False) else MYSQL_EXACT_COLLATION


class ExactString(TypeDecorator[str]):
    """A string compared byte for byte: ticket codes, keys, provider ids, tokens.

    MySQL/MariaDB compare strings under the table's collation (`utf8mb4_unicode_ci`): case, trailing
    spaces and control characters are ignored there, so `TF1.ABC ` would find the ticket `tf1.abc`.
    Such columns get a binary NO PAD collation instead; SQLite compares bytes already.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        length = self.length
        if dialect.name in ("mysql", "mariadb"):
            exact = mysql.VARCHAR(length, charset="utf8mb4", collation=exact_collation(dialect))
            return dialect.type_descriptor(exact)
        return dialect.type_descriptor(String(length))
