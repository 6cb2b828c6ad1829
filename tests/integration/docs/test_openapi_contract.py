"""The served OpenAPI document is a valid contract, and the server answers the way it says."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from openapi_spec_validator import validate

from ticketflow.lib.api_docs import MAX_ID

CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")
OPERATION_ID = re.compile(r"^(?P<verb>[a-z]+)(?P<noun>(?:[A-Z][a-z0-9]*)*)$")
VERBS = {
    "get", "list", "lookup", "create", "update", "replace", "delete", "cancel", "purchase", "pay",
    "validate", "admit", "transfer", "sync", "pair", "revoke", "revert", "resend", "retry",
    "receive", "send", "refund", "export", "import", "download", "upload", "reset", "confirm", "reissue",
}  # fmt: skip
"""An operationId is a verb and what it acts on (`listEvents`, `getTicketQrPng`); a new kind of
action adds its verb here."""
ONE_WORD_OPERATIONS = {"login", "register"}
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


def test_the_document_validates_and_its_security_schemes_are_honest(spec: dict[str, Any]) -> None:
    document = spec
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


def test_every_operation_has_a_stable_camel_case_id_a_summary_and_tags(spec: dict[str, Any]) -> None:
    document = spec
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


def test_every_operation_id_is_set_on_its_route_and_follows_the_naming_scheme(document_app: Litestar) -> None:
    """A route without an operationId would get its handler's name (`prometheusMetrics`), which
    changes whenever the code is reorganised: every documented route names its own."""
    document = document_app.openapi_schema.to_schema()
    for path, method, operation in operations(document):
        match = OPERATION_ID.match(operation["operationId"])
        assert match, (method, path, operation["operationId"])
        if operation["operationId"] not in ONE_WORD_OPERATIONS:
            assert match["verb"] in VERBS, (method, path, operation["operationId"], "verb not in VERBS")
            assert match["noun"], (method, path, operation["operationId"], "a verb alone")
    documented = {operation["operationId"] for _, _, operation in operations(document)}
    handlers = [
        handler
        for route in document_app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if isinstance(handler, HTTPRouteHandler) and handler.resolve_include_in_schema()
    ]
    assert len(handlers) >= len(documented) > 50
    for handler in handlers:
        assert isinstance(handler.operation_id, str), (handler.paths, handler.handler_name)
        assert handler.operation_id in documented, handler.operation_id
    assert document["paths"]["/metrics"]["get"]["operationId"] == "getMetrics"


def resolved(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def answer_examples(media: dict[str, Any], document: dict[str, Any]) -> list[Any]:
    """The examples of one answer: the media type's own, or else its schema's."""
    if "example" in media:
        return [media["example"]]
    if media.get("examples"):
        return [example["value"] for example in media["examples"].values()]
    return list(resolved(media.get("schema", {}), document).get("examples", []))


def test_every_json_success_answer_has_an_example_and_every_example_fits_its_schema(
    spec: dict[str, Any],
) -> None:
    document = spec
    checked = 0
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                examples = answer_examples(media, document)
                if status.startswith("2") and media_type == "application/json":
                    assert examples, (method, path, status, "no example")
                # every schema is checked against the whole document, so references resolve
                validator = Draft202012Validator(
                    {**media.get("schema", {}), "components": document["components"]},
                    format_checker=Draft202012Validator.FORMAT_CHECKER,
                )
                for example in examples:
                    problems = [error.message for error in validator.iter_errors(example)]
                    assert not problems, (method, path, status, media_type, problems)
                    checked += 1
    assert checked > 100
    csv = document["paths"]["/events/{event_id}/vouchers"]["get"]["responses"]["200"]["content"]
    assert set(csv) == {"application/json", "text/csv"}
    assert csv["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Voucher"},
    }


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


def test_every_operation_declares_its_refusals_and_binary_answers_their_media_types(
    spec: dict[str, Any],
) -> None:
    document = spec
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
