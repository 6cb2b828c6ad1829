"""The tests' servers listen on ports no outgoing connection, and no other server started meanwhile,
can be given."""

from __future__ import annotations

import socket

import pytest

from tests.support.mariadb import LISTENING_PORTS, ephemeral_ports, free_port, port_share


def test_a_free_port_lies_below_the_ephemeral_ports_and_can_be_bound() -> None:
    ephemeral = ephemeral_ports()
    if ephemeral.start <= LISTENING_PORTS.start + 1:
        pytest.skip(f"this machine gives outgoing connections ports from {ephemeral.start}: no room below")
    drawn = [free_port() for _ in range(200)]
    ports = set(drawn)
    assert len(ports) == len(drawn)  # a process never gives one port twice
    for port in ports:
        assert port in LISTENING_PORTS
        assert port < ephemeral.start
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_two_test_workers_draw_from_disjoint_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = range(10_000, 10_101)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    shares = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        shares.append(set(port_share(ports)))
    assert not shares[0] & shares[1]
    assert shares[0] | shares[1] == set(ports)
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert port_share(ports) == ports  # outside xdist: every port
