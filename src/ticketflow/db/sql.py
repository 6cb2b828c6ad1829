"""Hand-written statements of the two hot paths, with their names taken from the models.

The door and the start of a purchase run fixed statements straight on a driver connection
(`db.driver`). Each context keeps them in one `statements` module next to the models they mirror
(`domain/checkin/statements.py`, `domain/tickets/statements.py`). They are written with `sql`:

    ADMIT = sql(
        "UPDATE {t} SET {t.status} = {used} WHERE {t.code} = %s",
        t=Ticket, used=TicketStatus.USED,
    )

`{t}` is the model's table name and `{t.status}` one of its column names (an unknown column raises
`KeyError` when the module is imported); an enum member is written as its quoted value. Values
that change per call stay `%s` parameters (SQLite gets `?`, see `DriverConnection`).
`tests/integration/test_hand_statements.py` has both databases prepare every `Statement` of every
statements module against the migrated schema, so a model, a migration and a statement that
disagree fail a test.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Table

from ticketflow.db.base import Base, table_of

_PLAIN_LITERAL = re.compile(r"[a-z_]+")
_FIELDS = string.Formatter()


class Statement(str):
    """One hand-written statement's SQL text (`%s` placeholders), built by `sql`."""

    __slots__ = ()

    @property
    def parameters(self) -> int:
        """How many `%s` parameters the statement takes."""
        return self.count("%s")

    def rows(self, count: int) -> Statement:
        """An `INSERT ... VALUES (...)` of one row as the same INSERT of `count` rows."""
        head, row = self.split(" VALUES ", 1)
        return Statement(f"{head} VALUES {', '.join([row] * count)}")


@dataclass(frozen=True, slots=True)
class PerDialect:
    """One statement written twice where the two databases spell a function differently (say,
    the id of the row just inserted): `of(db.is_sqlite)` is the one to run."""

    mysql: Statement
    sqlite: Statement

    def of(self, sqlite: bool) -> Statement:
        return self.sqlite if sqlite else self.mysql


class _TableNames:
    """`{t}`: the table's name; `{t.column}`: a column's name (unknown: `KeyError`)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def __getattr__(self, column: str) -> str:
        return str(self._table.c[column].name)

    def __format__(self, spec: str) -> str:
        return str(self._table.name)


def _field(value: type[Base] | Table | Enum) -> _TableNames | str:
    if isinstance(value, Enum):
        return _literal(value)
    return _TableNames(value if isinstance(value, Table) else table_of(value))


def _literal(value: Enum) -> str:
    text = str(value.value)
    if not _PLAIN_LITERAL.fullmatch(text):  # pragma: no cover - state values are plain words
        raise ValueError(text)
    return f"'{text}'"


def sql(template: str, **names: type[Base] | Table | Enum) -> Statement:
    """The statement `template` with its `{...}` fields named by the models (or tables) and enums
    given."""
    values: dict[str, Any] = {key: _field(value) for key, value in names.items()}
    used = {field.split(".", 1)[0] for _, field, _, _ in _FIELDS.parse(template) if field}
    if used != set(values):
        msg = f"fields {sorted(used)} but names {sorted(values)}"
        raise ValueError(msg)
    return Statement(template.format_map(values))
