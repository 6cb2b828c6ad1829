"""`deploy/start.py`, the container's entry point, run for real: against MariaDB, on loopback.

What a container does is what these tests do: the script waits for a database that is not there
yet, migrates it, serves with uvicorn (several processes, proxy headers trusted from loopback),
answers its health check, and stops gracefully on SIGTERM.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.deploy.deploy_support import (
    StartedProcess,
    TcpForwarder,
    launch,
    production_variables,
    start_module,
    wait_until_ready,
)
from tests.support.databases import MySQLProvider, run_async
from tests.support.mariadb import free_port
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import current_head
from ticketflow.settings import Settings

# generous: on a loaded machine a Python start alone took more than a minute
pytestmark = pytest.mark.timeout(420)


@pytest.fixture
def processes() -> Any:
    """Every process a test starts is gone when it ends, whatever happened."""
    started: list[StartedProcess] = []
    yield started
    for process in started:
        process.kill()


def health(variables: dict[str, str], state_file: Path, cwd: Path) -> int:
    """The image's HEALTHCHECK command, run with the container's environment."""
    return launch(["health", "--state-file", str(state_file)], variables, cwd).finish(30)


def scalar(database_url: str, statement: str) -> Any:
    async def read() -> Any:
        engine = create_engine(Settings(database_url=database_url), null_pool=True)
        try:
            async with engine.connect() as connection:
                return await connection.scalar(text(statement))
        finally:
            await engine.dispose()

    return run_async(read)


def schema_version(database_url: str) -> str | None:
    return scalar(database_url, "SELECT version_num FROM alembic_version")


def mysql_variables(provider: MySQLProvider, database_url: str, port: int) -> dict[str, str]:
    """The MYSQL_* variables of a Render deployment, pointing at `port` on loopback."""
    url = make_url(database_url)
    return {
        "MYSQL_HOST": "127.0.0.1",
        "MYSQL_PORT": str(port),
        "MYSQL_USER": str(url.username),
        "MYSQL_PASSWORD": str(url.password),
        "MYSQL_DATABASE": str(url.database),
    }


def request_counts(body: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(body)
        if family.name == "ticketflow_http_requests"
        for sample in family.samples
        if sample.name == "ticketflow_http_requests_total" and sample.labels["route"] == route
    )


@pytest.mark.mysql
def test_api_waits_for_the_database_migrates_and_serves(
    mysql_provider: MySQLProvider, tmp_path: Path, processes: list[StartedProcess], redis_url: str
) -> None:
    database_url = run_async(lambda: mysql_provider.create_database("tf_start"))
    admin = make_url(mysql_provider.admin_url)
    database_port, http_port = free_port(), free_port()
    state_file = tmp_path / "state.json"
    variables = production_variables(
        SERVER_WORKERS="2",
        REDIS_URL=redis_url,  # production refuses several workers without a shared limit store
        FORWARDED_ALLOW_IPS="127.0.0.1",
        **mysql_variables(mysql_provider, database_url, database_port),
    )
    api = launch(
        ["api", "--port", str(http_port), "--state-file", str(state_file), "--wait-seconds", "90"],
        variables,
        tmp_path,
    )
    processes.append(api)

    # nothing listens on the database port yet: the script waits
    api.wait_for(
        lambda p: sum(m.startswith("waiting for the database") for m in p.messages()) >= 2,
        120,
        "waiting for the database",
    )
    tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
    assert scalar(database_url, tables) == 0
    forwarder = TcpForwarder(database_port, (str(admin.host), int(admin.port or 3306)))
    forwarder.start()
    try:
        wait_until_ready(api, http_port)
        assert schema_version(database_url) == current_head()
        assert health(variables, state_file, tmp_path) == 0

        base = f"http://127.0.0.1:{http_port}"
        for number in range(20):  # a new connection each: both processes take some
            response = httpx.get(
                f"{base}/health",
                headers={"X-Request-ID": f"probe-{number}", "X-Forwarded-For": "203.0.113.7"},
            )
            assert response.status_code == 200
            assert response.headers["X-Request-ID"] == f"probe-{number}"

        def scrape() -> str:
            answer = httpx.get(
                f"{base}/metrics", headers={"Authorization": f"Bearer {variables['METRICS_TOKEN']}"}
            )
            assert answer.status_code == 200
            return answer.text

        # a request is counted once its answer is sent: the last one may still be on its way
        deadline = time.monotonic() + 30
        while request_counts(scrape(), "/health") < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        # every scrape, whichever process answers it, counts the requests of all processes
        for _ in range(4):
            text = scrape()
            assert request_counts(text, "/health") == 20
            assert "process_resident_memory_bytes" not in text  # multiprocess mode

        api.wait_for(lambda p: any(r.get("request_id") == "probe-19" for r in p.records()), 60, "log line")
        probe = [r for r in api.records() if r.get("request_id") == "probe-3"]
        assert len(probe) == 1
        assert probe[0]["logger"] == "ticketflow.access"
        assert probe[0]["client"] == "203.0.113.7"  # the proxy's header, trusted from loopback
        assert (probe[0]["route"], probe[0]["status"]) == ("/health", 200)

        def started(p: StartedProcess) -> set[object]:
            return {r["process"] for r in p.records() if r.get("message") == "Application startup complete."}

        api.wait_for(lambda p: len(started(p)) == 2, 60, "both processes started")
        serving = {r["process"] for r in api.records() if r.get("logger") == "ticketflow.access"}
        assert serving <= started(api)

        assert api.terminate() == 0
        assert "Stopping parent process" in " ".join(api.messages())
        assert health(variables, state_file, tmp_path) == 1
    finally:
        forwarder.stop()


@pytest.mark.mysql
def test_concurrent_starts_migrate_once(
    mysql_provider: MySQLProvider, tmp_path: Path, processes: list[StartedProcess]
) -> None:
    database_url = run_async(lambda: mysql_provider.create_database("tf_lock"))
    variables = production_variables(DATABASE_URL=database_url)
    # the second waits for the first's whole migration (37 s of one step on a busy machine once)
    runs = [launch(["migrate", "--wait-seconds", "240"], variables, tmp_path) for _ in range(2)]
    processes.extend(runs)
    assert [run.finish(300) for run in runs] == [0, 0]  # inside the test's 420 s
    assert schema_version(database_url) == current_head()
    first_revision = [
        message for run in runs for message in run.messages() if re.match(r"Running upgrade +-> ", message)
    ]
    assert len(first_revision) == 1, "the schema was created by exactly one of the two"


@pytest.mark.mysql
def test_a_refusing_database_fails_at_once(
    mysql_provider: MySQLProvider, tmp_path: Path, processes: list[StartedProcess]
) -> None:
    admin = make_url(mysql_provider.admin_url)
    wrong = admin.set(password="not-the-password", database="mysql").render_as_string(hide_password=False)
    run = launch(["migrate", "--wait-seconds", "120"], production_variables(DATABASE_URL=wrong), tmp_path)
    processes.append(run)
    assert run.finish(120) == 1
    assert any("cannot start: the database refuses us" in m for m in run.messages())


def test_waiting_for_the_database_gives_up(tmp_path: Path, processes: list[StartedProcess]) -> None:
    variables = production_variables(MYSQL_HOST="127.0.0.1", MYSQL_PORT=str(free_port()), MYSQL_PASSWORD="x")
    run = launch(["api", "--wait-seconds", "2"], variables, tmp_path)
    processes.append(run)
    assert run.finish(60) == 1
    messages = run.messages()
    assert any(m.startswith("waiting for the database") for m in messages)
    assert any("cannot start: the database did not answer within 2 s" in m for m in messages)


def test_unsafe_settings_stop_the_start(tmp_path: Path, processes: list[StartedProcess]) -> None:
    variables = production_variables(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/t.db",
        METRICS_TOKEN="",
        SESSION_SECRET="s" * 48,
        PUBLIC_BASE_URL="http://tickets.example.org",
        PAYMENT_PROVIDER="simulated",
    )
    del variables["JWT_SECRET"]
    run = launch(["api"], variables, tmp_path)
    processes.append(run)
    assert run.finish(60) == 1
    refusals = [line for line in run.lines if line.startswith("cannot start: invalid settings:")]
    assert len(refusals) == 1, run.lines  # one message names them all
    for variable in ("JWT_SECRET", "SESSION_SECRET", "METRICS_TOKEN", "PUBLIC_BASE_URL", "PAYMENT_PROVIDER"):
        assert variable in refusals[0]
    assert "s" * 48 not in "\n".join(run.lines)
    assert not (tmp_path / "t.db").exists(), "nothing was touched"


def read_until(connection: socket.socket, marker: bytes | None) -> bytes:
    """What the server sends until `marker` (or until it closes the connection, for None)."""
    received = b""
    while marker is None or marker not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_in_flight_requests_finish_after_sigterm(tmp_path: Path, processes: list[StartedProcess]) -> None:
    """A request the application is in the middle of when SIGTERM arrives is still answered.

    The login announces its body with `Expect: 100-continue`; the server says `100 Continue` only
    when the application starts reading that body, so the request is surely in flight when the
    signal is sent, whatever the machine's load. The body follows once the shutdown has begun.
    """
    port = free_port()
    variables = production_variables(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/ticketflow.db")
    api = launch(
        ["api", "--port", str(port), "--state-file", str(tmp_path / "s.json"), "--graceful-seconds", "120"],
        variables,
        tmp_path,
    )
    processes.append(api)
    wait_until_ready(api, port)

    body = json.dumps({"email": "nobody@example.com", "password": "a-wrong-password"}).encode()
    head = (
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nX-Request-ID: in-flight\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
        connection.sendall(head.encode())
        assert read_until(connection, b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue")
        api.process.send_signal(signal.SIGTERM)
        api.wait_for(lambda p: "Shutting down" in p.messages(), 120, "the shutdown")
        connection.sendall(body)
        answer = read_until(connection, None)
    assert api.finish(120) == 0

    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    messages = api.messages()
    shutting_down = messages.index("Shutting down")
    answered = next(
        index for index, record in enumerate(api.records()) if record.get("request_id") == "in-flight"
    )
    assert answered > shutting_down, "the login was answered after the shutdown began"


def test_worker_runs_until_sigterm(tmp_path: Path, processes: list[StartedProcess]) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/ticketflow.db"
    state_file = tmp_path / "state.json"
    variables = production_variables(DATABASE_URL=database_url, WORKER_POLL_SECONDS="0.2")
    worker = launch(["worker", "--state-file", str(state_file)], variables, tmp_path)
    processes.append(worker)
    # a generous cap: on a busy machine the migration step alone, a Python start, took 37 s
    worker.wait_for(lambda p: any(m.startswith("worker started") for m in p.messages()), 150, "worker")
    assert schema_version(database_url) == current_head()
    assert health(variables, state_file, tmp_path) == 0
    assert worker.terminate() == 0
    assert "worker stopped" in worker.messages()
    worker_lines = [r for r in worker.records() if r["logger"] == "ticketflow.worker"]
    assert worker_lines, "the worker logs in JSON like the API"
    assert health(variables, state_file, tmp_path) == 1


def test_health_is_bad_before_the_start(tmp_path: Path) -> None:
    assert health(production_variables(), tmp_path / "missing.json", tmp_path) == 1


def test_database_url_from_the_mysql_variables() -> None:
    build = start_module().database_url_from_parts
    url = build(
        {
            "MYSQL_HOST": "db.internal",
            "MYSQL_PORT": "3307",
            "MYSQL_USER": "tf",
            "MYSQL_PASSWORD": "p@ss:w/rd+=?#",
            "MYSQL_DATABASE": "tickets",
        }
    )
    parsed = make_url(url)
    assert (parsed.drivername, parsed.host, parsed.port) == ("mysql+asyncmy", "db.internal", 3307)
    assert (parsed.username, parsed.password, parsed.database) == ("tf", "p@ss:w/rd+=?#", "tickets")
    assert parsed.query == {"charset": "utf8mb4"}
    assert build({"MYSQL_HOST": "db", "DATABASE_URL": "sqlite+aiosqlite:///x.db"}) is None
    assert build({"MYSQL_PASSWORD": "x"}) is None


@pytest.mark.parametrize(
    ("trusted_proxies", "forged_header_believed"), [("10.0.0.0/8", False), ("127.0.0.1", True)]
)
def test_forwarded_address_counts_only_from_a_trusted_proxy(
    tmp_path: Path, processes: list[StartedProcess], trusted_proxies: str, forged_header_believed: bool
) -> None:
    """A client that is not a trusted proxy cannot escape the login limit with `X-Forwarded-For`."""
    port = free_port()
    variables = production_variables(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/ticketflow.db",
        FORWARDED_ALLOW_IPS=trusted_proxies,
        LOGIN_MAX_ATTEMPTS_PER_CLIENT="2",
        ARGON2_MEMORY_KIB="7168",
        ARGON2_TIME_COST="5",
    )
    api = launch(["api", "--port", str(port), "--state-file", str(tmp_path / "s.json")], variables, tmp_path)
    processes.append(api)
    wait_until_ready(api, port)

    def attempt(number: int) -> int:
        return httpx.post(
            f"http://127.0.0.1:{port}/login",
            json={"email": f"someone-{number}@example.com", "password": "a-wrong-password"},
            headers={"X-Forwarded-For": f"198.51.100.{number}"},  # a new address each time
            timeout=30,
        ).status_code

    answers = [attempt(number) for number in range(1, 5)]
    assert answers == ([401] * 4 if forged_header_believed else [401, 401, 429, 429])
