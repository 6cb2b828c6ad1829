"""A client generated from the served document alone drives the whole first session.

openapi-python-client reads `/docs/openapi.json` (with docs/openapi-python-client.yaml, as
docs/API-CLIENTS.md tells users) and the session below uses only the generated functions and
models: if a step cannot be written with them, the document is wrong.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.support.contract import contract_server, create_account, generate_python_client
from tests.support.documents import qr_texts
from tests.support.live import live_limits
from ticketflow.db.models.users import Role

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
LIVE = {"limits": live_limits()}
"""The generated clients' httpx options: idle connections dropped before the server drops them."""


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "ticketflow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def test_the_first_session_through_the_generated_python_client(tmp_path: Path, sqlite_url: str) -> None:
    admin_email, admin_password = create_account(sqlite_url, Role.ADMIN)
    with contract_server(sqlite_url, tmp_path) as server:
        package = generate_python_client(server, tmp_path / "generated")
        api = importlib.import_module(f"{package.__name__}.api")
        models = importlib.import_module(f"{package.__name__}.models")
        accounts, events, tickets, door = (
            importlib.import_module(f"{api.__name__}.{tag}")
            for tag in ("accounts", "events", "tickets", "door")
        )
        anonymous = package.Client(base_url=server.base_url, raise_on_unexpected_status=True, httpx_args=LIVE)

        def module(group, name):
            return importlib.import_module(f"{group.__name__}.{name}")

        # register and log in
        created = module(accounts, "register").sync_detailed(
            client=anonymous,
            body=models.UserCreate(name="Ada Lovelace", email="ada@example.com", password=PASSWORD),
        )
        assert created.status_code == 201, created.content
        assert created.parsed.role == models.Role.ATTENDEE
        login = module(accounts, "login")
        token = login.sync(
            client=anonymous, body=models.LoginBody(email="ada@example.com", password=PASSWORD)
        )
        assert isinstance(token, models.AccessToken), token
        ada = package.AuthenticatedClient(
            base_url=server.base_url,
            token=token.access_token,
            raise_on_unexpected_status=True,
            httpx_args=LIVE,
        )
        assert module(accounts, "get_me").sync(client=ada).email == "ada@example.com"

        # an admin publishes an event
        admin_token = login.sync(
            client=anonymous, body=models.LoginBody(email=admin_email, password=admin_password)
        )
        admin = package.AuthenticatedClient(
            base_url=server.base_url,
            token=admin_token.access_token,
            raise_on_unexpected_status=True,
            httpx_args=LIVE,
        )
        starts = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
        event = module(events, "create_event").sync(
            client=admin,
            body=models.EventCreate(title="Jazz Night", venue="Blue Hall", starts_at=starts, capacity=50),
        )
        assert isinstance(event, models.Event), event
        assert event.tickets_available == 50

        # the attendee finds it and buys two tickets
        page = module(events, "list_events").sync(client=ada, upcoming=True)
        assert [item.id for item in page.items] == [event.id]
        bought = module(tickets, "purchase_tickets").sync_detailed(
            event.id, client=ada, body=models.PurchaseRequest(quantity=2), idempotency_key="first-session-1"
        )
        assert bought.status_code == 201, bought.content
        first, second = bought.parsed.tickets
        assert first.status == models.TicketStatus.ACTIVE
        assert bought.parsed.payment is None

        # the QR code is a PNG that encodes the ticket's code
        png = module(tickets, "get_ticket_qr_png").sync(first.id, client=ada)
        image = Image.open(io.BytesIO(png.payload.read()))
        assert image.format == "PNG"
        assert qr_texts(image) == [first.code]

        # the door admits it once
        validate = module(door, "validate_ticket")
        admitted = validate.sync_detailed(
            first.code, client=admin, body=models.ScanRequest(event_id=event.id)
        )
        assert admitted.status_code == 200
        assert admitted.parsed.result == models.ScanResult.VALID
        again = validate.sync_detailed(first.code, client=admin, body=None)
        assert again.status_code == 409
        assert again.parsed.result == models.ScanResult.ALREADY_USED
        assert again.parsed.used_at is not None

        # the other ticket is cancelled, and the seat goes back on sale
        cancelled = module(tickets, "cancel_ticket").sync(second.id, client=ada)
        assert cancelled.status == models.TicketStatus.CANCELLED
        assert module(events, "get_event").sync(event.id, client=anonymous).tickets_available == 49
