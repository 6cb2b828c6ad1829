"""The `ticketflow` console script, run as a user runs it: `users create`, `run`, production refusal."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from tests.support.databases import BACKENDS, run_async
from tests.support.live import server_environment
from tests.support.mariadb import free_port
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import current_head, upgrade_to_head
from ticketflow.db.models.users import User
from ticketflow.settings import DEFAULT_JWT_SECRET, Settings

TICKETFLOW = str(Path(sys.executable).with_name("ticketflow"))
REPOSITORY = Path(__file__).resolve().parents[3]
STRONG_SECRETS = {"JWT_SECRET": "jwt-" + "a" * 40, "SESSION_SECRET": "session-" + "b" * 40}


def ticketflow(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TICKETFLOW, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite: a path that does not exist yet (the CLI migrates it). MariaDB: a migrated database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cli.db'}"
    provider = request.getfixturevalue("mysql_provider")
    url: str = run_async(lambda: provider.create_database("tf_cli"))
    upgrade_to_head(url)
    return url


async def stored_user(database_url: str, email: str) -> User | None:
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(select(User).where(User.email == email))).one_or_none()
    finally:
        await engine.dispose()
    return row  # type: ignore[return-value]


def create_user(database_url: str, cwd: Path, email: str, *extra: str) -> subprocess.CompletedProcess[str]:
    # the real argon2 parameters: the command line is how the first admin is made
    env = server_environment(
        database_url, ARGON2_MEMORY_KIB="19456", ARGON2_TIME_COST="2", DATABASE_AUTO_MIGRATE="1"
    )
    return ticketflow(
        "users",
        "create",
        "--email",
        email,
        "--name",
        "Ada Admin",
        "--password",
        "correct horse battery",
        *extra,
        env=env,
        cwd=cwd,
    )


def test_users_create_makes_an_admin_who_can_log_in(fresh_database_url: str, tmp_path: Path) -> None:
    result = create_user(fresh_database_url, tmp_path, "Ada@Example.com", "--role", "admin", "--locale", "es")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "created admin ada@example.com" in result.stdout
    assert "correct horse battery" not in result.stdout + result.stderr
    user = run_async(lambda: stored_user(fresh_database_url, "ada@example.com"))
    assert user is not None
    assert user.role == "admin"
    assert user.name == "Ada Admin"
    assert user.locale == "es"
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_users_create_refuses_a_taken_email(fresh_database_url: str, tmp_path: Path) -> None:
    first = create_user(fresh_database_url, tmp_path, "taken@example.com")
    assert first.returncode == 0, first.stdout + first.stderr

    again = create_user(fresh_database_url, tmp_path, "TAKEN@example.com", "--role", "staff")

    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert "taken@example.com" in again.stderr
    assert "Traceback" not in again.stderr
    user = run_async(lambda: stored_user(fresh_database_url, "taken@example.com"))
    assert user is not None
    assert (user.role, user.locale) == ("attendee", "en")  # the first account is untouched, in English


@pytest.mark.parametrize(
    ("email", "password", "role", "message"),
    [
        ("not-an-email", "correct horse battery", "admin", "--email must be an e-mail address"),
        ("short@example.com", "short", "admin", "--password needs 8 to 1024 characters"),
        ("role@example.com", "correct horse battery", "owner", "owner"),
        ("josé@example.com", "correct horse battery", "admin", "cannot receive our e-mails"),
    ],
)
def test_users_create_refuses_invalid_input(
    tmp_path: Path, email: str, password: str, role: str, message: str
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    result = ticketflow(
        "users",
        "create",
        "--email",
        email,
        "--name",
        "Someone",
        "--password",
        password,
        "--role",
        role,
        env=server_environment(database_url),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_users_create_explains_an_unreachable_database(tmp_path: Path) -> None:
    database_url = f"mysql+asyncmy://ticketflow:db-secret-pw@127.0.0.1:{free_port()}/ticketflow"
    result = create_user(database_url, tmp_path, "nobody@example.com")
    assert result.returncode != 0
    assert "the database cannot be used" in result.stderr
    assert "Traceback" not in result.stderr
    assert "db-secret-pw" not in result.stdout + result.stderr


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[str]
    output: str = ""


@contextmanager
def ticketflow_run(env: dict[str, str], cwd: Path, port: int | None = None) -> Iterator[RunningServer]:
    """`ticketflow run` as a user starts it; stopped with Ctrl-C; its output kept in `.output`."""
    port = port or free_port()
    process = subprocess.Popen(
        [TICKETFLOW, "run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", process)
    try:
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            server.output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            server.output, _ = process.communicate(timeout=10)


def wait_until_ready(server: RunningServer, timeout: float = 180) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"ticketflow run exited early:\n{server.process.communicate()[0][-3000:]}")
        try:
            response = httpx.get(f"{server.base_url}/ready", timeout=1.0)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"ticketflow run was not ready within {timeout} s")


def test_run_creates_and_migrates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    database = tmp_path / "new" / "folder" / "ticketflow.db"
    env = server_environment(
        f"sqlite+aiosqlite:///{database}",
        DATABASE_AUTO_MIGRATE="1",
        LOG_LEVEL="DEBUG",
        SMTP_PASSWORD="smtp-password-never-logged",
        **STRONG_SECRETS,
    )
    with ticketflow_run(env, tmp_path) as server:
        ready = wait_until_ready(server)
        assert ready.json() == {"status": "ok", "database": "ok"}
        assert database.is_file()
        base_url = server.base_url
        registered = httpx.post(
            f"{base_url}/register",
            json={"name": "Log Reader", "email": "logs@example.com", "password": "password-never-logged"},
        )
        assert registered.status_code == 201, registered.text
        login = httpx.post(
            f"{base_url}/login", data={"username": "logs@example.com", "password": "password-never-logged"}
        )
        assert login.status_code == 200
        token = login.json()["access_token"]
        assert httpx.get(f"{base_url}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    version = run_async(lambda: _alembic_version(f"sqlite+aiosqlite:///{database}"))
    assert version == current_head()
    for secret in (*STRONG_SECRETS.values(), "smtp-password-never-logged", "password-never-logged", token):
        assert secret not in server.output, "a secret reached the log"
    assert "/register" in server.output  # the log was captured at all


@pytest.mark.skipif(shutil.which("curl") is None, reason="the documented session uses curl")
def test_documented_curl_session_works_as_written(tmp_path: Path) -> None:
    """The shell sessions of the README (the first one, then the door), run against `ticketflow run`."""
    readme = (REPOSITORY / "README.md").read_text()
    blocks = [
        re.search(r"```sh\n(.*?)```", readme[readme.index(heading) :], re.DOTALL)
        for heading in ("## A first session with curl", "## At the door")
    ]
    assert None not in blocks
    port = free_port()
    script = "\n".join(block.group(1) for block in blocks if block)
    script = script.replace(".venv/bin/ticketflow", TICKETFLOW)
    script = script.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
    env = server_environment("sqlite+aiosqlite:///./var/ticketflow.db", DATABASE_AUTO_MIGRATE="1")
    with ticketflow_run(env, tmp_path, port) as server:
        wait_until_ready(server)
        session = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert session.returncode == 0, session.stdout + session.stderr
        output = session.stdout
        pairing = re.search(r'"pairing_url":"[^"]*/scan#code=([^"]+)"', output)
        assert pairing is not None, output
        base = f"http://127.0.0.1:{port}"
        paired = httpx.post(f"{base}/scanners/pair", json={"code": pairing.group(1)}, timeout=10)
        assert paired.status_code == 200, paired.text
        assert paired.json()["scanner"]["name"] == "Phone 1"
        assert httpx.get(f"{base}/scan", timeout=10).status_code == 200
    assert "created admin admin@example.com" in output
    assert '"email":"grace@example.com","role":"attendee"' in output
    assert '"title":"Jazz Night"' in output
    assert '"starts_at":"2031-06-01T18:00:00Z"' in output
    assert '"date":"2031-06-01","time":"20:00"' in output
    assert '"total":1,"limit":20,"offset":0' in output
    assert '"name":"North door","ticket_type_ids":[],"allow_reentry":true' in output
    assert '"code":"BAND-2031","kind":"percent","value":100' in output
    assert output.count('"ticket_type_name":"VIP"') == 2  # the ticket named at the door, twice
    assert output.index('"result":"valid"') < output.index('"result":"already_used"')


async def _alembic_version(database_url: str) -> str | None:
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"JWT_SECRET": DEFAULT_JWT_SECRET}, "JWT_SECRET"),
        ({"JWT_SECRET": "too-short-secret"}, "JWT_SECRET"),
        ({"SESSION_SECRET": ""}, "SESSION_SECRET"),
        ({"DATABASE_URL": "sqlite+aiosqlite:///:memory:"}, "in-memory SQLite"),
    ],
)
def test_production_start_refuses_unsafe_settings(
    tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    env = server_environment(f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}", **STRONG_SECRETS)
    env.update({"TICKETFLOW_ENV": "production", "ARGON2_MEMORY_KIB": "19456", "ARGON2_TIME_COST": "2"})
    env.update(variables)
    env.pop("SESSION_SECRET") if variables.get("SESSION_SECRET") == "" else None

    result = ticketflow("run", "--port", str(free_port()), env=env, cwd=tmp_path, timeout=60)

    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert STRONG_SECRETS["JWT_SECRET"] not in result.stdout + result.stderr
    assert not (tmp_path / "prod.db").exists()  # refused before touching anything
