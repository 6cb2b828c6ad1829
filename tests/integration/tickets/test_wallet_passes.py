"""Apple Wallet passes: unzipped, hashed and verified with OpenSSL against a throwaway CA."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import settings_for_tests
from tests.support.api import buy, make_actor, make_event
from tests.support.factories import in_days
from tests.support.wallet_ca import PASS_TYPE_ID, TEAM_ID, WalletFiles, make_wallet_files
from ticketflow.app import create_app
from ticketflow.settings import Settings, SettingsError


@pytest.fixture(scope="module")
def wallet_files(tmp_path_factory: pytest.TempPathFactory) -> WalletFiles:
    return make_wallet_files(tmp_path_factory.mktemp("wallet"))


@pytest.fixture
def settings(database_url: str, wallet_files: WalletFiles) -> Settings:
    return settings_for_tests(database_url, **wallet_files.settings())


def openssl_verify(folder: Path, root: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER",
            "-in", str(folder / "signature"), "-content", str(folder / "manifest.json"),
            "-CAfile", str(root), "-purpose", "any", "-out", "/dev/null",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )  # fmt: skip


async def test_the_holder_adds_a_signed_pass_to_the_wallet(client, db, wallet_files, tmp_path) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Ada Lovelace")
    starts_at = in_days(9).replace(hour=19, minute=0, second=0)
    event = await make_event(
        client, admin, title="Noche de Flamenco", venue="Teatro Real, Madrid", starts_at=starts_at,
        timezone="Europe/Madrid",
    )  # fmt: skip
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    named = await client.patch(
        f"/tickets/{ticket['id']}", json={"attendee_name": "José Núñez"}, headers=holder.headers
    )
    assert named.status_code == 200

    response = await client.get(f"/tickets/{ticket['id']}/wallet.pkpass", headers=holder.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apple.pkpass"
    assert f'filename="ticket-{ticket["id"]}.pkpass"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        assert {"pass.json", "icon.png", "icon@2x.png", "manifest.json", "signature"} <= names
        archive.extractall(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest) == names - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1((tmp_path / name).read_bytes()).hexdigest() == digest  # noqa: S324

    pass_ = json.loads((tmp_path / "pass.json").read_text(encoding="utf-8"))
    assert pass_["formatVersion"] == 1
    assert pass_["passTypeIdentifier"] == PASS_TYPE_ID
    assert pass_["teamIdentifier"] == TEAM_ID
    assert pass_["organizationName"] == "Teatro Example"
    assert pass_["serialNumber"] == f"ticket-{ticket['id']}"
    assert pass_["voided"] is False
    assert pass_["barcodes"][0] == pass_["barcode"]
    assert pass_["barcode"]["format"] == "PKBarcodeFormatQR"
    assert pass_["barcode"]["message"] == ticket["code"]
    fields = {
        field["key"]: field["value"]
        for group in pass_["eventTicket"].values()
        for field in group
    }  # fmt: skip
    assert fields["event"] == "Noche de Flamenco"
    assert fields["venue"] == "Teatro Real, Madrid"
    assert fields["attendee"] == "José Núñez"
    assert fields["order"] == f"#{ticket['order_id']}"
    # Madrid's wall-clock time with its own offset: Wallet shows 19:00 wherever the phone is.
    assert fields["starts"] == starts_at.astimezone(ZoneInfo("Europe/Madrid")).isoformat()
    assert pass_["relevantDate"] == fields["starts"]

    verified = openssl_verify(tmp_path, wallet_files.root)
    assert verified.returncode == 0, verified.stderr.decode()
    # The same check fails once a single byte of the manifest changes.
    (tmp_path / "manifest.json").write_bytes(
        (tmp_path / "manifest.json").read_bytes().replace(b"{", b"{ ", 1)
    )
    assert openssl_verify(tmp_path, wallet_files.root).returncode != 0


async def test_only_the_owner_or_an_admin_gets_the_pass(client, db, parties) -> None:
    url = f"/tickets/{parties.ticket['id']}/wallet.pkpass"
    assert (await client.get(url, headers=parties.admin.headers)).status_code == 200
    assert (await client.get(url, headers=parties.stranger.headers)).status_code == 404
    assert (await client.get(url, headers=parties.staff.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
    cancelled = await client.post(f"/tickets/{parties.ticket['id']}/cancel", headers=parties.owner.headers)
    assert cancelled.status_code == 200
    voided = await client.get(url, headers=parties.owner.headers)
    with zipfile.ZipFile(io.BytesIO(voided.content)) as archive:
        assert json.loads(archive.read("pass.json"))["voided"] is True


async def test_a_server_without_certificates_refuses_cleanly(db, parties, database_url, tmp_path) -> None:
    unsigned = create_app(settings_for_tests(database_url))
    missing = create_app(
        settings_for_tests(
            database_url,
            **{**make_wallet_files(tmp_path).settings(), "wallet_private_key": str(tmp_path / "gone.key")},
        )
    )
    url = f"/tickets/{parties.ticket['id']}/wallet.pkpass"
    for app, detail in (
        (unsigned, "wallet passes are not configured on this server"),
        (missing, "the wallet pass certificate or key cannot be loaded"),
    ):
        async with AsyncTestClient(app=app) as other:
            response = await other.get(url, headers=parties.owner.headers)
            assert response.status_code == 503
            assert response.json()["detail"] == detail


def test_wallet_settings_come_all_together(wallet_files) -> None:
    complete = wallet_files.settings()
    environ = {key.upper(): value for key, value in complete.items()}
    assert Settings.from_env(environ, env_file=None).wallet_team_id == TEAM_ID
    partial = {key: value for key, value in complete.items() if key != "wallet_team_id"}
    environ = {key.upper(): value for key, value in partial.items()}
    with pytest.raises(SettingsError, match="missing: WALLET_TEAM_ID"):
        Settings.from_env(environ, env_file=None)
