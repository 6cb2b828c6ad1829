"""What the deployment tests share: the repository's files and the start script as a module."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tests.support.production import STRONG_PRODUCTION
from ticketflow.settings import Settings, environment_variable

ROOT = Path(__file__).resolve().parents[2]
START_SCRIPT = ROOT / "deploy" / "start.py"
CONTAINER_ONLY_VARIABLES = frozenset({"MYSQL_ROOT_PASSWORD"})
"""Read by the MySQL container, never by Ticket-Flow."""


@cache
def start_module() -> ModuleType:
    """`deploy/start.py`, imported (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("ticketflow_deploy_start", START_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def setting_variables() -> set[str]:
    return {environment_variable(spec.name) for spec in fields(Settings)}


def known_variables() -> set[str]:
    """Every variable the application, the start script or the MySQL container reads."""
    start_variables: tuple[str, ...] = start_module().START_VARIABLES
    return setting_variables() | set(start_variables) | CONTAINER_ONLY_VARIABLES


# --- running the start script ---------------------------------------------------------------


@dataclass
class StartedProcess:
    """`deploy/start.py` running in a child process; its output collected line by line."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        parsed = []
        for line in list(self.lines):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    parsed.append(record)
        return parsed

    def messages(self) -> list[str]:
        return [str(record.get("message")) for record in self.records()]

    def wait_for(self, predicate: Callable[[StartedProcess], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if predicate(self):
            return
        output = "\n".join(self.lines[-40:])
        raise AssertionError(f"{what}: not seen (exit code {self.process.poll()}); output:\n{output}")

    def finish(self, timeout: float = 60) -> int:
        """Wait for the process to exit by itself; its exit code."""
        code = self.process.wait(timeout=timeout)
        if self.reader is not None:
            self.reader.join(timeout=10)
        return code

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as `docker stop` sends; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def child_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any Ticket-Flow variable, plus `variables`."""
    environment = {key: value for key, value in os.environ.items() if key not in known_variables()}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    environment.update(variables)
    return environment


def production_variables(**variables: str) -> dict[str, str]:
    """A valid production configuration with JSON logs."""
    return {
        **STRONG_PRODUCTION,
        "LOG_JSON": "1",
        "WORKER_IN_PROCESS": "0",
        **variables,
    }


def launch(arguments: list[str], variables: dict[str, str], cwd: Path) -> StartedProcess:
    """Run `python deploy/start.py ARGUMENTS` in `cwd` (where no `.env` is)."""
    process = subprocess.Popen(
        [sys.executable, str(START_SCRIPT), *arguments],
        cwd=cwd,
        env=child_environment(**variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = StartedProcess(process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            started.lines.append(line.rstrip("\n"))

    started.reader = threading.Thread(target=read, daemon=True)
    started.reader.start()
    return started


def wait_until_ready(started: StartedProcess, port: int, timeout: float = 240) -> None:
    """Until `/ready` answers 200 (a generous cap: a loaded machine starts Python slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if started.process.poll() is not None:
            break
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    output = "\n".join(started.lines[-40:])
    raise AssertionError(f"/ready never answered 200 (exit code {started.process.poll()}):\n{output}")


class TcpForwarder:
    """A loopback TCP relay: lets a test make a database appear on a port at a chosen moment."""

    def __init__(self, listen_port: int, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", listen_port))
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.server.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
