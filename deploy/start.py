"""Start Ticket-Flow in a container: wait for the database, migrate, then serve or work.

    python deploy/start.py api        wait, migrate, serve the API with uvicorn (the image's default)
    python deploy/start.py worker     wait, migrate, run the background jobs until SIGTERM
    python deploy/start.py migrate    wait, migrate, exit (Render's pre-deploy command)
    python deploy/start.py health     exit 0 when this container's process is healthy (HEALTHCHECK):
                                      the API answers /ready, the worker's process is alive

Settings come from the environment like everywhere else (see `.env.example`). Besides them the
script reads `PORT` (the port to serve on, default 8000, set by platforms such as Render) and,
when `DATABASE_URL` is not set, builds it from `MYSQL_HOST`, `MYSQL_PORT`, `MYSQL_USER`,
`MYSQL_PASSWORD` and `MYSQL_DATABASE` - the variables the official MySQL image reads - so one
generated password serves both the database and the application.

Migrations run under a MySQL named lock (`GET_LOCK`), so API and worker containers starting
together, or several API replicas, migrate once and the others wait and find nothing to do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import logging.config
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the rest is imported where needed: `health` runs every 30 s and stays light
    from sqlalchemy.exc import DBAPIError

    from ticketflow.settings import Settings

APP_FACTORY = "ticketflow.app:create_app_from_env"
DEFAULT_PORT = 8000
MIGRATION_LOCK = "ticketflow_migrations"
STATE_FILE = Path(tempfile.gettempdir()) / "ticketflow-process.json"
PERMANENT_DATABASE_ERRORS = {1044, 1045, 1049}
"""Access denied (1044, 1045) and unknown database (1049): waiting will not fix these."""
START_VARIABLES = (
    "PORT",
    "MYSQL_HOST",
    "MYSQL_PORT",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "MYSQL_DATABASE",
    "PROMETHEUS_MULTIPROC_DIR",
)
"""Environment variables this script reads besides the settings (all listed in `.env.example`)."""

logger = logging.getLogger("ticketflow.start")


class StartError(RuntimeError):
    """The process cannot start; the message says why."""


def database_url_from_parts(environ: Mapping[str, str]) -> str | None:
    """`DATABASE_URL` built from the MySQL image's variables, when it is not given itself."""
    from sqlalchemy.engine import URL  # noqa: PLC0415

    if environ.get("DATABASE_URL") or not environ.get("MYSQL_HOST"):
        return None
    url = URL.create(
        "mysql+asyncmy",
        username=environ.get("MYSQL_USER") or "ticketflow",
        password=environ.get("MYSQL_PASSWORD") or None,
        host=environ["MYSQL_HOST"],
        port=int(environ.get("MYSQL_PORT") or 3306),
        database=environ.get("MYSQL_DATABASE") or "ticketflow",
        query={"charset": "utf8mb4"},
    )
    return url.render_as_string(hide_password=False)


def load_settings() -> Settings:
    from ticketflow.settings import Settings, SettingsError  # noqa: PLC0415

    composed = database_url_from_parts(os.environ)
    if composed is not None:
        os.environ["DATABASE_URL"] = composed  # the migration and server processes read it too
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise StartError(f"invalid settings: {exc}") from exc


def _error_code(exc: DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


async def wait_for_database(settings: Settings, wait_seconds: float) -> None:
    """Return once the database answers `SELECT 1`; StartError after `wait_seconds`."""
    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

    from ticketflow.db.config import create_engine  # noqa: PLC0415

    engine = create_engine(settings, null_pool=True)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                async with asyncio.timeout(10):
                    async with engine.connect() as connection:
                        await connection.execute(text("SELECT 1"))
            except (DBAPIError, OSError, TimeoutError) as exc:
                if isinstance(exc, DBAPIError) and _error_code(exc) in PERMANENT_DATABASE_ERRORS:
                    raise StartError(f"the database refuses us: {exc.orig}") from exc
                reason = exc.orig if isinstance(exc, DBAPIError) else exc
                if time.monotonic() >= deadline:
                    raise StartError(
                        f"the database did not answer within {wait_seconds:g} s: {reason}"
                    ) from exc
                logger.info("waiting for the database: %s", reason)
                await asyncio.sleep(1)
            else:
                logger.info("the database answers")
                return
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def migration_lock(settings: Settings, wait_seconds: float) -> AsyncIterator[None]:
    """Hold a MySQL named lock while migrating (SQLite lives on one host: nothing to do)."""
    from sqlalchemy import text  # noqa: PLC0415

    from ticketflow.db.config import create_engine  # noqa: PLC0415

    if settings.is_sqlite:
        yield
        return
    engine = create_engine(settings, null_pool=True)
    connection = await engine.connect()
    try:
        granted = await connection.scalar(
            text("SELECT GET_LOCK(:name, :timeout)"), {"name": MIGRATION_LOCK, "timeout": int(wait_seconds)}
        )
        if granted != 1:
            raise StartError(f"another process held the migration lock for {wait_seconds:g} s")
        try:
            yield
        finally:
            await connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": MIGRATION_LOCK})
    finally:
        await connection.close()
        await engine.dispose()


def run_migrations() -> None:
    """`ticketflow database upgrade --no-prompt` in a child process (the documented command)."""
    command = [sys.executable, "-m", "ticketflow", "database", "upgrade", "--no-prompt"]
    result = subprocess.run(command, check=False, env=dict(os.environ))  # noqa: S603
    if result.returncode != 0:
        raise StartError(f"migrations failed (exit code {result.returncode})")


async def prepare_database(settings: Settings, wait_seconds: float, *, migrate: bool) -> None:
    await wait_for_database(settings, wait_seconds)
    if not migrate:
        return
    async with migration_lock(settings, wait_seconds):
        started = time.monotonic()
        await asyncio.to_thread(run_migrations)
        logger.info("database schema up to date (%.1f s)", time.monotonic() - started)


def prepare_metrics_directory(settings: Settings) -> None:
    """Several uvicorn processes share their metrics through files in one folder."""
    if settings.server_workers <= 1:
        return
    from ticketflow.lib.metrics import MULTIPROCESS_DIR_VARIABLE  # noqa: PLC0415

    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if directory:
        for stale in Path(directory).glob("*.db"):  # counters of a previous run
            stale.unlink()
    else:
        directory = tempfile.mkdtemp(prefix="ticketflow-metrics-")
        os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
    logger.info("metrics of %d processes are shared through %s", settings.server_workers, directory)


def write_state(state_file: Path, **state: Any) -> None:
    state_file.write_text(json.dumps({"pid": os.getpid(), **state}))


def serve(settings: Settings, host: str, port: int, graceful_seconds: int) -> None:
    import uvicorn  # noqa: PLC0415

    from ticketflow.lib.logs import process_logging_config  # noqa: PLC0415

    prepare_metrics_directory(settings)
    logger.info(
        "serving on %s:%d with %d worker process(es); forwarded headers trusted from %s",
        host,
        port,
        settings.server_workers,
        settings.forwarded_allow_ips,
    )
    # uvicorn handles SIGTERM itself (graceful shutdown) and raises it again once done: that
    # second one needs nothing more, the process then ends normally with exit code 0
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=settings.server_workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=graceful_seconds,
        access_log=False,  # `ticketflow.access` logs each request, with its request id
        log_config=process_logging_config(settings),
        server_header=False,
    )


def work() -> None:
    """The `ticketflow worker` command, in this process so its lines use our log format."""
    from ticketflow.__main__ import main  # noqa: PLC0415

    sys.argv = ["ticketflow", "worker"]
    main()


def check_health(state_file: Path) -> int:
    """0 when the process recorded in `state_file` is healthy, else 1 (with the reason)."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        print(f"not started: no {state_file}", file=sys.stderr)  # noqa: T201
        return 1
    if state.get("role") == "api":
        url = f"http://127.0.0.1:{state['port']}/ready"
        try:
            with urllib.request.urlopen(url, timeout=4) as response:
                return 0 if response.status == 200 else 1
        except OSError as exc:
            print(f"{url}: {exc}", file=sys.stderr)  # noqa: T201
            return 1
    try:
        os.kill(int(state["pid"]), 0)  # the worker: its process is there (its logs and the
    except (OSError, KeyError, ValueError):  # outbox age in /metrics tell whether it keeps up)
        print("the worker process is gone", file=sys.stderr)  # noqa: T201
        return 1
    return 0


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="start.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="api", choices=["api", "worker", "migrate", "health"])
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's published port
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT))
    parser.add_argument(
        "--wait-seconds", type=float, default=120, help="how long to wait for the database (default 120)"
    )
    parser.add_argument(
        "--graceful-seconds",
        type=int,
        default=20,
        help="on SIGTERM, how long in-flight requests may take to finish (default 20)",
    )
    parser.add_argument("--no-migrate", action="store_true", help="skip migrations (already run)")
    parser.add_argument("--state-file", type=Path, default=STATE_FILE, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def configure_logging(settings: Settings) -> None:
    """This process logs like the application: JSON lines when LOG_JSON=1."""
    from ticketflow.lib.logs import process_logging_config  # noqa: PLC0415

    logging.config.dictConfig(process_logging_config(settings))


def _stop_on_sigterm() -> None:
    """As PID 1 a process ignores SIGTERM unless it handles it: exit while still preparing."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if arguments.role == "health":
        return check_health(arguments.state_file)
    _stop_on_sigterm()
    try:
        settings = load_settings()
        configure_logging(settings)
        asyncio.run(prepare_database(settings, arguments.wait_seconds, migrate=not arguments.no_migrate))
    except StartError as exc:
        logger.error("cannot start: %s", exc)
        return 1
    if arguments.role == "migrate":
        return 0
    write_state(arguments.state_file, role=arguments.role, port=arguments.port)
    if arguments.role == "worker":
        work()
        return 0
    serve(settings, arguments.host, arguments.port, arguments.graceful_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
