"""One shape for every list of the API: `limit`/`offset` in the query, `{items, total, limit, offset}` back.

A context registers `provide_limit_offset` as its `limit_offset` dependency; a handler takes the
`LimitOffset` filter it builds, hands it to its repository service, and shapes the service's
`OffsetPagination` with `page_of`. A context names its page for the OpenAPI document:
`EventPage = Annotated[Page[Event], schema_name("EventPage")]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar.params import KwargDefinition, Parameter

T = TypeVar("T")
M = TypeVar("M")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 10_000_000


class Page(msgspec.Struct, Generic[T]):
    """One page of a list: `items` from `offset` on, at most `limit` of them, `total` in all."""

    items: list[T]
    total: int
    limit: int
    offset: int


def schema_name(name: str) -> KwargDefinition:
    """Names a page type in the OpenAPI document (`EventPage`, not `Page_..._Event_`)."""
    return KwargDefinition(schema_component_key=name)


def provide_limit_offset(
    limit: Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description="items per page")] = DEFAULT_LIMIT,
    offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="items to skip")] = 0,
) -> LimitOffset:
    """The `limit` and `offset` query parameters as advanced-alchemy's `LimitOffset` filter."""
    return LimitOffset(limit=limit, offset=offset)


def page_of(found: OffsetPagination[M], shape: Callable[[M], T]) -> Page[T]:
    """A service's page with each item shaped for the API."""
    return Page(
        items=[shape(item) for item in found.items],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )
