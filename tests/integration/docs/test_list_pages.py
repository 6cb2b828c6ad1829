"""Every list of the API takes the same `limit`/`offset` and answers the same page shape."""

from __future__ import annotations

import pytest

LISTS = {"/users": "UserPage", "/events": "EventPage", "/tickets": "TicketPage", "/outbox": "OutboxPage"}


@pytest.mark.parametrize(("path", "page"), LISTS.items())
def test_a_list_takes_limit_and_offset_and_answers_a_named_page(spec: dict, path: str, page: str) -> None:
    operation = spec["paths"][path]["get"]
    query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    assert (query["limit"]["minimum"], query["limit"]["maximum"], query["limit"]["default"]) == (1, 100, 20)
    assert (query["offset"]["minimum"], query["offset"]["maximum"], query["offset"]["default"]) == (
        0,
        10_000_000,
        0,
    )
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{page}"}
    shape = spec["components"]["schemas"][page]
    assert set(shape["required"]) == {"items", "total", "limit", "offset"}
    assert shape["properties"]["items"]["type"] == "array"
