"""Declarative base shared by every model: naming convention, id and audit columns."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, MetaData, Table
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ticketflow.db.types import UTCDateTime

# Stable constraint names: migrations can refer to them on MySQL and SQLite alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT AUTO_INCREMENT on MySQL; INTEGER PRIMARY KEY (rowid alias) on SQLite.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def utc_now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class Base(AsyncAttrs, DeclarativeBase):
    """Base class of all Ticket-Flow tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    """Integer surrogate key, auto-incremented by the database (no sequences, no MariaDB-only path)."""

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True, sort_order=-100)


class TimestampMixin:
    """`created_at` / `updated_at`, stored in UTC and returned timezone-aware."""

    created_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utc_now, nullable=False, sort_order=3000
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utc_now, onupdate=utc_now, nullable=False, sort_order=3001
    )


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for statements on the hot paths that skip the ORM."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model here maps one table
        raise TypeError(model)
    return table
