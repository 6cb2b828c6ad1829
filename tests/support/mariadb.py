"""A throwaway MariaDB/MySQL server for the tests, started from the installed binaries."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SEARCH_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin:/usr/local/mysql/bin"


def find_binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name, path=SEARCH_PATH)
        if found:
            return found
    return None


LISTENING_PORTS = range(10_000, 32_768)
"""Where the tests' servers listen: below Linux's ephemeral ports (32768-60999 by default), so
that no outgoing connection (the tests make thousands, to MariaDB among others) is given a port
between `free_port` finding it free and the server binding it."""


def free_port() -> int:
    """A loopback port free now, for a server started next (it binds the port itself): one of
    this test process's share of `LISTENING_PORTS` below the ephemeral ports (`port_share`), never
    one it gave before, else (a machine that leaves none) any. So two servers started at once, by
    one test process or by two pytest-xdist workers, are never given the same port."""
    below_ephemeral = port_share(
        range(LISTENING_PORTS.start, min(LISTENING_PORTS.stop, ephemeral_ports().start))
    )
    for _ in range(100 if len(below_ephemeral) > len(GIVEN_PORTS) else 0):
        port = random.choice(below_ephemeral)
        if port in GIVEN_PORTS:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        GIVEN_PORTS.add(port)
        return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


GIVEN_PORTS: set[int] = set()
"""The ports `free_port` gave in this process."""


def port_share(ports: range) -> range:
    """This process's slice of `ports`: the n-th of k pytest-xdist workers takes every k-th port
    from the n-th on (all of them outside xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or not worker[2:].isdigit() or count < 2:
        return ports
    return ports[int(worker[2:]) % count :: count]


def ephemeral_ports() -> range:
    """The ports this machine gives outgoing connections (`ip_local_port_range`)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return range(32_768, 61_000)
    return range(int(low), int(high) + 1)


@dataclass
class MariaDBServer:
    """A server in a temporary directory of its own (`home`: its data, its temporary files, socket
    and logs); `url(db)` gives an asyncmy URL."""

    home: Path
    port: int
    process: subprocess.Popen[bytes]
    admin: str

    def url(self, database: str) -> str:
        return f"mysql+asyncmy://root:root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def sql(self, statement: str) -> str:
        result = subprocess.run(
            [
                self.client(),
                "--no-defaults",
                f"--socket={self.home / 'sock'}",
                "-uroot",
                "-proot",
                "-N",
                "-e",
                statement,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return result.stdout.decode()

    def client(self) -> str:
        return find_binary("mariadb", "mysql") or "mariadb"

    def stop(self) -> None:
        subprocess.run(
            [
                self.admin,
                "--no-defaults",
                f"--socket={self.home / 'sock'}",
                "-uroot",
                "-proot",
                "shutdown",
            ],
            check=False,
            capture_output=True,
            timeout=60,
        )
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)


def start_mariadb() -> MariaDBServer:
    """Start a private server; raises `RuntimeError` with a reason when that is impossible."""
    server_bin = find_binary("mariadbd", "mysqld")
    install_bin = find_binary("mariadb-install-db", "mysql_install_db")
    admin_bin = find_binary("mariadb-admin", "mysqladmin")
    if not (server_bin and install_bin and admin_bin):
        msg = "no MariaDB/MySQL server binaries (mariadbd, mariadb-install-db, mariadb-admin) on PATH"
        raise RuntimeError(msg)
    home = Path(tempfile.mkdtemp(prefix="ticketflow-mariadb-"))
    # Temporary files in a directory of its own: a server starting removes the `#sql*` files it
    # finds in its tmpdir, and with a shared /tmp it removed those of a server still installing.
    datadir, tmpdir = home / "data", home / "tmp"
    tmpdir.mkdir()
    try:
        installed = subprocess.run(
            [
                install_bin,
                "--no-defaults",
                f"--datadir={datadir}",
                f"--tmpdir={tmpdir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=False,
            capture_output=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as error:
        shutil.rmtree(home, ignore_errors=True)
        msg = f"{install_bin} did not finish within 120 s"
        raise RuntimeError(msg) from error
    if installed.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        output = (installed.stdout + installed.stderr).decode(errors="replace")
        msg = f"{install_bin} failed ({installed.returncode}): {output[-2000:]}"
        raise RuntimeError(msg)
    port = free_port()
    log = open(home / "err.log", "ab")  # noqa: SIM115 - owned by the server process
    process = subprocess.Popen(
        [
            server_bin,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--tmpdir={tmpdir}",
            f"--socket={home / 'sock'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            f"--pid-file={home / 'pid'}",
            f"--log-error={home / 'err.log'}",
            "--skip-name-resolve",
            "--max-connections=500",
            "--innodb-buffer-pool-size=256M",
            "--innodb-flush-log-at-trx-commit=2",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ],
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ping = subprocess.run(
            [admin_bin, "--no-defaults", f"--socket={home / 'sock'}", "-uroot", "ping"],
            check=False,
            capture_output=True,
            timeout=10,
        )
        if ping.returncode == 0:
            break
        if process.poll() is not None:
            msg = f"mariadbd exited: {(home / 'err.log').read_text(errors='replace')[-2000:]}"
            raise RuntimeError(msg)
        time.sleep(0.1)
    else:
        process.kill()
        msg = "mariadbd did not answer within 60 s"
        raise RuntimeError(msg)
    server = MariaDBServer(home=home, port=port, process=process, admin=admin_bin)
    subprocess.run(
        [
            server.client(),
            "--no-defaults",
            f"--socket={home / 'sock'}",
            "-uroot",
            "-e",
            "ALTER USER 'root'@'localhost' IDENTIFIED BY 'root';"
            " DROP USER IF EXISTS 'root'@'127.0.0.1'; CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY 'root';"
            " GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return server
