"""API documentation served by the app itself, and the health probes."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from litestar.testing import AsyncTestClient

from tests.support.databases import settings_for_tests
from tests.support.mariadb import free_port
from ticketflow.app import create_app

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ABSOLUTE_URL = re.compile(r"""https?://[^\s"'<>)\\]+""")
DOCUMENTED_TAGS = {"Accounts", "Events", "Operations"}


def test_openapi_has_tags_descriptions_examples_and_bearer_scheme(spec: dict[str, Any]) -> None:
    assert spec["info"]["title"] == "Ticket-Flow API"
    assert "Authorize" in spec["info"]["description"]
    tags = {tag["name"]: tag.get("description", "") for tag in spec["tags"]}
    assert set(tags) >= DOCUMENTED_TAGS
    assert all(tags[name] for name in DOCUMENTED_TAGS)

    scheme = spec["components"]["securitySchemes"]["BearerToken"]
    assert scheme["type"] == "http"
    assert scheme["description"]
    assert spec["components"]["securitySchemes"]["SwaggerLogin"]["flows"]["password"]["tokenUrl"] == "/login"
    assert {"BearerToken": []} in spec["security"]

    paths = spec["paths"]
    for path, method in [
        ("/register", "post"),
        ("/login", "post"),
        ("/me", "get"),
        ("/users", "post"),
        ("/users", "get"),
        ("/events", "get"),
        ("/events", "post"),
        ("/events/{event_id}", "get"),
        ("/events/{event_id}", "put"),
        ("/events/{event_id}", "patch"),
        ("/events/{event_id}", "delete"),
        ("/health", "get"),
        ("/ready", "get"),
    ]:
        operation = paths[path][method]
        assert operation["tags"][0] in DOCUMENTED_TAGS, (path, method)
        assert operation["summary"], (path, method)

    # public routes say so; protected ones inherit the bearer requirement; a route that answers
    # more to an admin's token takes none or one, so Swagger's Authorize sends it there too
    for path, method in [("/login", "post"), ("/events", "get"), ("/health", "get")]:
        assert paths[path][method]["security"] == [], (path, method)
    for path, method in [
        ("/register", "post"),
        ("/events/{event_id}", "get"),
        ("/events/{event_id}/ticket-types", "get"),
    ]:
        assert paths[path][method]["security"] == [{}, *spec["security"]], (path, method)
    assert paths["/events"]["post"]["security"] == spec["security"]

    # errors are documented with the one error body, with examples
    created = paths["/events"]["post"]["responses"]
    assert {"201", "400", "401", "403", "415", "422"} <= set(created)
    forbidden = created["403"]["content"]["application/json"]
    assert set(forbidden["schema"]["$ref"].split("/")[-1:]) == {"ErrorBody"}
    example = next(iter(forbidden["examples"].values()))["value"]
    assert set(example) == {"status_code", "detail", "extra"}
    assert example["status_code"] == 403
    assert {"409", "404"} <= set(paths["/events/{event_id}"]["put"]["responses"])
    assert {"401", "429"} <= set(paths["/login"]["post"]["responses"])
    assert "503" in paths["/ready"]["get"]["responses"]

    login_body = paths["/login"]["post"]["requestBody"]["content"]
    assert set(login_body) == {"application/json"}  # the form is Swagger's, through SwaggerLogin

    schemas = spec["components"]["schemas"]
    assert schemas["UserCreate"]["properties"]["email"]["examples"] == ["ada@example.com"]
    assert schemas["UserCreate"]["properties"]["password"]["minLength"] == 8
    assert schemas["EventCreate"]["properties"]["starts_at"]["examples"]
    assert schemas["EventCreate"]["properties"]["capacity"]["minimum"] == 1
    assert schemas["EventCreate"]["properties"]["title"]["maxLength"] == 200


async def test_swagger_ui_is_served_from_the_app(client) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "SwaggerUIBundle" in html

    foreign = [
        url for url in ABSOLUTE_URL.findall(html) if urlparse(url).hostname not in ("testserver.local",)
    ]
    assert foreign == [], f"the docs page refers to other hosts: {foreign}"

    assets = ASSET.findall(html)
    scripts = [a for a in assets if a.endswith(".js")]
    styles = [a for a in assets if a.endswith(".css")]
    assert scripts
    assert styles
    for asset in assets:
        assert asset.startswith("/"), asset
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset
    for script in scripts:
        assert "javascript" in (await client.get(script)).headers["content-type"]
    for style in styles:
        assert "css" in (await client.get(style)).headers["content-type"]


async def test_health_and_ready(client) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


async def test_ready_is_503_when_the_database_is_unreachable(tmp_path) -> None:
    unreachable = f"mysql+asyncmy://ticketflow:secret-pw@127.0.0.1:{free_port()}/ticketflow"
    app = create_app(settings_for_tests(unreachable))
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "unreachable"}
        assert "secret-pw" not in ready.text
        health = await client.get("/health")
        assert health.status_code == 200  # the process itself is fine


async def test_ready_is_503_when_the_sqlite_file_cannot_be_opened(tmp_path) -> None:
    gone = tmp_path / "gone"
    app = create_app(settings_for_tests(f"sqlite+aiosqlite:///{gone / 'x.db'}"))
    gone.rmdir()  # the engine made the folder; without it SQLite cannot open the file
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["database"] == "unreachable"
