"""The tests' servers listen on ports no outgoing connection can be given meanwhile."""

from __future__ import annotations

import socket

import pytest

from tests.support.mariadb import LISTENING_PORTS, ephemeral_ports, free_port


def test_a_free_port_lies_below_the_ephemeral_ports_and_can_be_bound() -> None:
    ephemeral = ephemeral_ports()
    if ephemeral.start <= LISTENING_PORTS.start + 1:
        pytest.skip(f"this machine gives outgoing connections ports from {ephemeral.start}: no room below")
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1  # drawn at random: two test workers rarely pick the same
    for port in ports:
        assert port in LISTENING_PORTS
        assert port < ephemeral.start
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
