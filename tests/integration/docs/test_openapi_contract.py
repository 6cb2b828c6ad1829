"""The served OpenAPI document is a valid contract, and the server answers the way it says."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from ticketflow.lib.api_docs import MAX_ID

CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
WRONG_METHODS = ["PUT", "PATCH", "DELETE", "TRACE"]


async def served_document(client) -> dict[str, Any]:
    response = await client.get("/docs/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def concrete(path: str) -> str:
    """A request path for a documented template: ids 1, codes `unknown-code`."""
    return re.sub(r"\{[^}]*_id\}", "1", path).replace("{qr_code}", "unknown-code")


async def test_the_document_validates_and_its_security_schemes_are_honest(client) -> None:
    document = await served_document(client)
    validate(document)

    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["BearerToken"]["description"],
    }
    login = schemes["SwaggerLogin"]
    assert login["type"] == "oauth2"
    assert login["flows"] == {"password": {"tokenUrl": "/login", "scopes": {}}}
    assert not {"scheme", "bearerFormat", "in", "name"} & set(login)
    assert document["security"] == [{"BearerToken": []}, {"SwaggerLogin": []}]


async def test_every_operation_has_a_stable_camel_case_id_a_summary_and_tags(client) -> None:
    document = await served_document(client)
    found = {}
    for path, method, operation in operations(document):
        operation_id = operation["operationId"]
        assert CAMEL_CASE.match(operation_id), (path, method, operation_id)
        assert operation_id not in found, (operation_id, found.get(operation_id), path)
        found[operation_id] = (method.upper(), path)
        assert operation.get("summary"), (path, method)
        assert operation.get("tags"), (path, method)
    assert {
        "login": ("POST", "/login"),
        "register": ("POST", "/register"),
        "getMe": ("GET", "/me"),
        "listEvents": ("GET", "/events"),
        "createEvent": ("POST", "/events"),
        "getEvent": ("GET", "/events/{event_id}"),
        "purchaseTickets": ("POST", "/events/{event_id}/tickets"),
        "getTicket": ("GET", "/tickets/{ticket_id}"),
        "getTicketQrPng": ("GET", "/tickets/{ticket_id}/qr.png"),
        "getTicketQrSvg": ("GET", "/tickets/{ticket_id}/qr.svg"),
        "validateTicket": ("POST", "/tickets/{qr_code}/validate"),
        "cancelTicket": ("POST", "/tickets/{ticket_id}/cancel"),
        "getStats": ("GET", "/stats"),
    }.items() <= found.items()


async def test_options_and_wrong_methods_answer_with_the_documented_methods(client) -> None:
    document = await served_document(client)
    for path, item in document["paths"].items():
        documented = {method.upper() for method in item if method in HTTP_METHODS} | {"OPTIONS"}
        url = concrete(path)
        options = await client.options(url)
        assert options.status_code == 204, (path, options.text)
        assert set(options.headers["allow"].split(", ")) == documented, path
        for method in sorted(set(WRONG_METHODS) - documented):
            wrong = await client.request(method, url)
            assert wrong.status_code == 405, (method, path, wrong.status_code)
            assert set(wrong.headers["allow"].split(", ")) == documented, (method, path)


@pytest.mark.parametrize("beyond", [MAX_ID + 1, 2**63, 10**30])
async def test_ids_beyond_the_documented_maximum_are_the_declared_400(client, beyond: int) -> None:
    document = await served_document(client)
    parameter = document["paths"]["/events/{event_id}"]["get"]["parameters"][0]
    assert parameter["schema"]["maximum"] == MAX_ID
    assert parameter["schema"]["format"] == "int64"
    assert "400" in document["paths"]["/events/{event_id}"]["get"]["responses"]

    assert (await client.get(f"/events/{MAX_ID}")).status_code == 404
    response = await client.get(f"/events/{beyond}")
    assert response.status_code == 400
    assert response.json()["extra"][0]["key"] == "event_id"


def walk(node: Any) -> list[dict[str, Any]]:
    """Every object in the document, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(walk(value))
    return found


async def test_every_operation_declares_its_refusals_and_binary_answers_their_media_types(client) -> None:
    document = await served_document(client)
    for path, method, operation in operations(document):
        codes = set(operation["responses"])
        label = (method, path)
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert {"400", "413", "415"} <= codes, label
        if operation["security"]:
            assert {"401", "403"} & codes, label
        if any(parameter["in"] == "path" for parameter in operation.get("parameters", [])):
            assert {"400", "404"} <= codes, label
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert response.get("content"), (label, status)
    for suffix, media_type in [("qr.png", "image/png"), ("qr.svg", "image/svg+xml")]:
        answer = document["paths"][f"/tickets/{{ticket_id}}/{suffix}"]["get"]["responses"]["200"]
        assert answer["content"] == {
            media_type: {"schema": {"type": "string", "format": "binary", "contentMediaType": media_type}}
        }
    # no schema of the "array with properties" kind that client generators drop (it was under /stats)
    for schema in walk(document):
        kinds = schema.get("type")
        assert not (kinds == "array" or (isinstance(kinds, list) and "array" in kinds)) or (
            "additionalProperties" not in schema
        ), schema
