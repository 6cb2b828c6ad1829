"""The one private piece of Litestar the OpenAPI document relies on, pinned.

`ClosedStructSchemaPlugin` (ticketflow.openapi) subclasses Litestar's private
`StructSchemaPlugin`. These tests fail loudly, naming what changed, when a Litestar upgrade
moves or reshapes it, or when its schemas stop saying what the server enforces.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import litestar
import msgspec
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.plugins import OpenAPISchemaPlugin

from ticketflow.openapi import ClosedStructSchemaPlugin, build_openapi_config

Count = Annotated[int, msgspec.Meta(ge=0, le=10)]
Id = Annotated[int, msgspec.Meta(ge=1)]


class ClosedBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    count: Count | msgspec.UnsetType = msgspec.UNSET
    ids: list[Id] = []


class OpenBody(msgspec.Struct):
    name: str


def component_schemas() -> dict[str, dict[str, object]]:
    @post("/closed", operation_id="createClosed", sync_to_thread=False)
    def closed(data: JSONBody[ClosedBody]) -> None:
        return None

    @post("/open", operation_id="createOpen", sync_to_thread=False)
    def open_(data: JSONBody[OpenBody]) -> None:
        return None

    app = Litestar(
        [closed, open_], plugins=[ClosedStructSchemaPlugin()], openapi_config=build_openapi_config()
    )
    schemas: dict[str, dict[str, object]] = app.openapi_schema.to_schema()["components"]["schemas"]
    return schemas


def test_the_private_struct_plugin_is_still_where_and_what_it_was() -> None:
    """Litestar 2 has no public way to change the schema of a whole msgspec Struct (see
    ClosedStructSchemaPlugin): a major version may remove the class this one extends."""
    assert litestar.__version__.major == 2, "re-check ClosedStructSchemaPlugin against this Litestar"
    base = ClosedStructSchemaPlugin.__mro__[1]
    assert f"{base.__module__}.{base.__name__}" == (
        "litestar._openapi.schema_generation.plugins.struct.StructSchemaPlugin"
    )
    assert issubclass(base, OpenAPISchemaPlugin)
    for name, parameters in [
        ("is_plugin_supported_field", ["self", "field_definition"]),
        ("to_openapi_schema", ["self", "field_definition", "schema_creator"]),
    ]:
        assert list(inspect.signature(getattr(base, name)).parameters) == parameters, name


def test_a_closed_body_refuses_unknown_fields_and_keeps_every_bound_in_its_schema() -> None:
    schemas = component_schemas()
    closed = schemas["ClosedBody"]
    assert closed["additionalProperties"] is False
    properties = closed["properties"]
    assert isinstance(properties, dict)
    assert properties["name"] == {"type": "string", "maxLength": 20, "minLength": 1}
    count_shapes = [properties["count"], *properties["count"].get("oneOf", [])]
    assert any(shape.get("minimum") == 0 and shape.get("maximum") == 10 for shape in count_shapes)
    assert properties["ids"]["items"]["minimum"] == 1
    assert "additionalProperties" not in schemas["OpenBody"]
