"""Real uvicorn servers on loopback, for end-to-end and multi-process tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.mariadb import free_port

TEST_ENVIRONMENT = {
    "TICKETFLOW_ENV": "test",
    "JWT_SECRET": "live-test-secret-" + "y" * 40,
    "SESSION_SECRET": "live-session-secret-" + "z" * 40,
    "ARGON2_MEMORY_KIB": "1024",
    "ARGON2_TIME_COST": "1",
    "DATABASE_AUTO_MIGRATE": "0",
    "WORKER_IN_PROCESS": "0",
    "LOGIN_MAX_ATTEMPTS_PER_CLIENT": "100000",
    "REGISTER_MAX_PER_CLIENT": "100000",
}


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "TEST_"))}
    env.update(TEST_ENVIRONMENT)
    env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


SERVER_KEEP_ALIVE = 5
"""Seconds the live servers keep an idle connection open (uvicorn's `--timeout-keep-alive`)."""


def live_limits(max_connections: int = 100) -> httpx.Limits:
    """Connection limits for a client of live servers: a connection idle for a second is dropped,
    long before the server closes it. With httpx's default (5 s, the server's own), a request sent
    on a connection just as the server closes it fails with a connection reset (`httpx.ReadError`)."""
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=SERVER_KEEP_ALIVE / 5,
    )


def live_client(timeout: float, max_connections: int = 100, **options: Any) -> httpx.AsyncClient:
    """A client of live servers (see `live_limits`)."""
    return httpx.AsyncClient(timeout=timeout, limits=live_limits(max_connections), **options)


def uvicorn_command(port: int, *options: str) -> list[str]:
    """The command serving the app with uvicorn on loopback (quiet: warnings only)."""
    return [
        sys.executable, "-m", "uvicorn", "--factory", "ticketflow.app:create_app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        "--timeout-keep-alive", str(SERVER_KEEP_ALIVE), *options,
    ]  # fmt: skip


def wait_ready(server: LiveServer, timeout: float = 90.0) -> None:
    """Until `/ready` answers 200 (a generous deadline: a busy machine starts Python slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            msg = f"server exited early:\n{server.log()[-3000:]}"
            raise RuntimeError(msg)
        try:
            if httpx.get(f"{server.base_url}/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    msg = f"server not ready after {timeout} s:\n{server.log()[-3000:]}"
    raise RuntimeError(msg)


def stop(server: LiveServer) -> None:
    """The server's process ended, as a crash or a pulled cable would leave its clients."""
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def start_again(server: LiveServer, database_url: str, **extra_env: str) -> None:
    """A stopped server's process again, on the same port (its clients find it where it was)."""
    port = urlsplit(server.base_url).port
    assert port is not None
    with server.log_path.open("ab") as log:
        server.process = subprocess.Popen(
            uvicorn_command(port),
            env=server_environment(database_url, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_ready(server)


@contextmanager
def live_servers(
    database_url: str, count: int, log_dir: Path, **extra_env: str
) -> Iterator[list[LiveServer]]:
    """`count` uvicorn processes serving the app on one database (already migrated)."""
    servers: list[LiveServer] = []
    try:
        for index in range(count):
            port = free_port()
            log_path = log_dir / f"server-{index}.log"
            log = log_path.open("wb")
            process = subprocess.Popen(
                uvicorn_command(port),
                env=server_environment(database_url, **extra_env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            servers.append(LiveServer(f"http://127.0.0.1:{port}", process, log_path))
        for server in servers:
            wait_ready(server)
        yield servers
    finally:
        for server in servers:
            server.process.terminate()
        for server in servers:
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()


def run_on_mariadb_servers(
    mysql_provider: Any,
    log_dir: Path,
    database_name: str,
    scenario: Callable[[str, list[LiveServer]], Coroutine[Any, Any, None]],
    count: int = 2,
) -> None:
    """`scenario(database_url, servers)` against `count` processes sharing a fresh, migrated
    MariaDB database; no server may have logged a traceback."""
    from tests.support.databases import run_async
    from ticketflow.db.migrate import upgrade_to_head

    database_url: str = run_async(lambda: mysql_provider.create_database(database_name))
    upgrade_to_head(database_url)
    with live_servers(database_url, count, log_dir) as servers:
        run_async(lambda: scenario(database_url, servers))
        for server in servers:
            assert "Traceback" not in server.log()
