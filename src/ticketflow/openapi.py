"""The OpenAPI document's settings and the Swagger UI, served from the app's own files.

The document at `/docs/openapi.json` is a contract clients are generated from: every operation
has a stable camelCase `operationId` (set on its route; a route without one gets its handler's
name in camelCase), and the security schemes are the two of `lib/api_docs.py` whatever the
authentication backend would declare itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import msgspec.inspect
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin  # private: see below
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Contact, OpenAPI, Schema, Tag

from ticketflow.lib.api_docs import BEARER, PUBLIC, SECURITY_SCHEMES

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import Method
    from litestar.types.internal_types import PathParameterDefinition
    from litestar.typing import FieldDefinition

API_DESCRIPTION = """
Ticket-Flow sells event tickets and checks them at the door.

* **Attendees** sign up (`POST /register`), log in (`POST /login`), buy tickets and show the QR code.
* **Door staff** scan codes: `POST /tickets/{qr_code}/validate` answers `valid`, `already_used` or
  `invalid`, atomically, and records every scan.
* **Admins** publish events, see every ticket, create staff accounts.

Use **Authorize** with your e-mail as user name to call protected endpoints from this page.
Clients call protected endpoints with `Authorization: Bearer <access_token>`.
"""


def swagger_assets_directory() -> Path:
    import swagger_ui  # noqa: PLC0415 - only its folder is needed

    return Path(swagger_ui.__file__).parent / "static"


def camel_case_operation_id(
    route_handler: HTTPRouteHandler, http_method: Method, path_components: list[str | PathParameterDefinition]
) -> str:
    """The operationId of a route that sets none: its handler's name in camelCase."""
    first, *rest = route_handler.handler_name.split("_")
    return first + "".join(word.title() for word in rest)


ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


@dataclass
class ContractDocument(OpenAPI):
    """The document as served: every operation states its own security.

    A public route is written `security: []` (OpenAPI's "no authentication"; Litestar cannot emit
    an empty list, so routes mark themselves public with `[{}]`) and every other one names the
    bearer schemes, so a client generator need not resolve the document-wide default. A body that
    may be `null` may also be left out (`require_json_body` takes no body for a `data` with a
    default), which Litestar does not say. Every error goes through the one error handler, so a
    4xx declared without a body gets the `ErrorBody` it has.
    """

    def to_schema(self) -> dict[str, Any]:
        document = super().to_schema()
        for item in document.get("paths", {}).values():
            for operation in item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    security = operation.get("security")
                    operation["security"] = [] if security == PUBLIC else security or list(BEARER)
                    for status, response in operation["responses"].items():
                        if status.startswith("4") and not response.get("content"):
                            response["content"] = ERROR_CONTENT
                    body = operation.get("requestBody", {})
                    for content in body.get("content", {}).values():
                        if {"type": "null"} in content.get("schema", {}).get("oneOf", []):
                            body["required"] = False
        add_answer_examples(document)
        return document


def add_answer_examples(document: dict[str, Any]) -> None:
    """Give every JSON success answer that has none an example, built from its schema.

    A property's own example comes first (`msgspec.Meta(examples=[...])` on the field), then
    a value of `EXAMPLE_VALUES` under the property's name if it has the property's type, then a
    plain value of the right type and format. A field whose value follows a pattern needs an
    example of its own: the contract test checks that every example validates.
    """
    components = document.get("components", {}).get("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get("application/json")
                if status.startswith("2") and media and not {"example", "examples"} & set(media):
                    media["example"] = example_of(media.get("schema", {}), components)


EXAMPLE_VALUES: dict[str, Any] = {
    "title": "Jazz night",
    "event_title": "Jazz night",
    "venue": "Blue Note, Berlin",
    "description": "Doors open at 19:00.",
    "holder_name": "Grace Hopper",
    "attendee_name": "Grace Hopper",
    "ticket_type_name": "Standing",
    "email": "grace@example.com",
    "recipient": "grace@example.com",
    "currency": "EUR",
    "timezone": "Europe/Berlin",
    "date": "2026-06-01",
    "time": "19:30",
}
"""Example values by property name, for properties that have no example of their own."""

FORMAT_EXAMPLES = {
    "date-time": "2026-06-01T19:30:00Z",
    "date": "2026-06-01",
    "time": "19:30:00",
    "email": "grace@example.com",
    "uri": "https://tickets.example.com/",
    "url": "https://tickets.example.com/",
    "uuid": "3f2b8c1e-9d4a-4e6b-8a7f-2c5d1e0b9a64",
}
JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float)}


def example_of(schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A value of `schema` (references resolved in `components`); `name` is its property's name."""
    if "$ref" in schema:
        target = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return example_of(target, components, name, depth + 1) if depth < 8 else None
    for key in ("const", "example"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("default") is not None:
        return schema["default"]
    choices = [s for s in schema.get("oneOf", schema.get("anyOf", [])) if s.get("type") != "null"]
    if choices:
        return example_of(choices[0], components, name, depth)
    kinds = schema.get("type", "object")
    kind = next((k for k in kinds if k != "null"), "null") if isinstance(kinds, list) else kinds
    if kind == "object":
        properties = schema.get("properties", {})
        value = {key: example_of(prop, components, key, depth) for key, prop in properties.items()}
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict) and extra:
            value["key"] = example_of(extra, components, "", depth)
        return value
    if kind == "array":
        item = example_of(schema.get("items", {}), components, "", depth)
        return [item] * max(1, schema.get("minItems", 1))
    if kind in JSON_TYPES:
        known = EXAMPLE_VALUES.get(name)
        if isinstance(known, JSON_TYPES[kind]) and "format" not in schema:
            return known
    if kind == "string":
        text = FORMAT_EXAMPLES.get(schema.get("format", ""), "text")
        return (text * schema.get("minLength", 1))[: schema.get("maxLength", len(text))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        number = min(low, schema.get("maximum", low))
        return int(number) if kind == "integer" else number
    return {"boolean": True, "null": None}.get(kind)


@dataclass
class ContractConfig(OpenAPIConfig):
    """The document's security: one bearer scheme for the API, whatever the auth backend says."""

    def to_openapi_schema(self) -> OpenAPI:
        base = super().to_openapi_schema()
        document = ContractDocument(**{field.name: getattr(base, field.name) for field in fields(base)})
        document.security = list(BEARER)
        document.components.security_schemes = dict(SECURITY_SCHEMES)
        return document


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Request bodies that refuse unknown fields say so: `additionalProperties: false`.

    This extends a private Litestar class on purpose, because Litestar 2 has no public way to
    change the schema of a whole msgspec Struct: `schema_extra` exists per field or parameter
    only, a plugin of the public `OpenAPISchemaPlugin` protocol would have to rebuild every
    Struct's schema itself (Litestar's own conversion of a Struct's fields is private too), and
    the finished document (`ContractDocument.to_schema`) names its components but no longer
    knows the Struct behind each. The dependency is kept to this class and pinned by
    tests/unit/test_closed_struct_schemas.py, which fails, saying what changed, on an upgrade
    that moves or reshapes the parent class or loses what these schemas promise.
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        if not super().is_plugin_supported_field(field_definition):
            return False
        config: msgspec.structs.StructConfig = field_definition.type_.__struct_config__
        return config.forbid_unknown_fields

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        restore_dropped_bounds(field_definition.type_, schema)
        return schema


def restore_dropped_bounds(struct: type[msgspec.Struct], schema: Schema) -> None:
    """Put back the bounds Litestar leaves out of a request body's schema, or the document would
    allow what the server refuses: a bound of 0 (`ge=0`) on a field whose type is a union
    (`int | UnsetType`, `float | UnsetType`), and the bounds of a list's items (`list[id >= 1]`)."""
    info = msgspec.inspect.type_info(struct)
    fields = info.fields if isinstance(info, msgspec.inspect.StructType) else ()
    for field in fields:
        prop = (schema.properties or {}).get(field.encode_name)
        if not isinstance(prop, Schema):
            continue
        # an optional field (`X | UnsetType`) is rendered as a `oneOf` of X alone: bound X too
        shapes = [prop, *(s for s in prop.one_of or () if isinstance(s, Schema))]
        for kind in _member_types(field.type):
            if isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
                for shape in shapes:
                    _bound(shape, kind)
            if isinstance(kind, msgspec.inspect.ListType):
                item = _member_types(kind.item_type)[0]
                if isinstance(item, msgspec.inspect.IntType | msgspec.inspect.FloatType):
                    for shape in shapes:
                        if isinstance(shape.items, Schema):
                            _bound(shape.items, item)


def _bound(shape: Schema, kind: msgspec.inspect.IntType | msgspec.inspect.FloatType) -> None:
    if kind.ge is not None and shape.minimum is None:
        shape.minimum = kind.ge
    if kind.le is not None and shape.maximum is None:
        shape.maximum = kind.le


def _member_types(kind: msgspec.inspect.Type) -> tuple[msgspec.inspect.Type, ...]:
    """The types a field may hold, each without its annotation wrapper."""
    kinds = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
    return tuple(k.type if isinstance(k, msgspec.inspect.Metadata) else k for k in kinds)


def build_openapi_config() -> OpenAPIConfig:
    return ContractConfig(
        title="Ticket-Flow API",
        version="0.1.0",
        description=API_DESCRIPTION,
        contact=Contact(name="Ticket-Flow"),
        path="/docs",
        tags=[
            Tag(name="Accounts", description="Sign-up, login, users and roles"),
            Tag(name="Events", description="Events and their seat inventory"),
            Tag(name="Ticket types", description="What an event sells: types, prices, caps"),
            Tag(name="Vouchers", description="Discount and unlock codes of an event (admin)"),
            Tag(name="Tickets", description="Buying, listing, QR codes and cancelling tickets"),
            Tag(name="Orders", description="Orders with their lines; cancelling a whole order"),
            Tag(name="Door", description="Ticket validation at the entrance"),
            Tag(name="Payments", description="Checkout pages, landing pages and provider webhooks"),
            Tag(name="Notifications", description="Ticket e-mails and the outbox"),
            Tag(name="Stats", description="Sales and check-in figures (admin)"),
            Tag(name="Operations", description="Health, readiness and metrics"),
        ],
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url="/static/swagger/swagger-ui-bundle.js",
                css_url="/static/swagger/swagger-ui.css",
                standalone_preset_js_url="/static/swagger/swagger-ui-standalone-preset.js",
                favicon='<link rel="icon" type="image/png" href="/static/swagger/favicon-32x32.png">',
            )
        ],
        components=Components(),
        operation_id_creator=camel_case_operation_id,
    )
