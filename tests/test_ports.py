"""alphapulse.ports: a free loopback port, drawn below the ephemeral range."""

from __future__ import annotations

import random
import socket

from alphapulse import ports


def test_the_port_is_below_the_ephemeral_range_and_can_be_bound():
    for _ in range(20):
        port = ports.free_port()
        assert ports.LOW <= port < ports.HIGH
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_seeding_random_does_not_fix_the_ports_drawn():
    drawn = set()
    for _ in range(5):
        random.seed(7)
        drawn.add(ports.free_port())
    assert len(drawn) > 1  # five equal draws out of 10 000 ports: 1e-16


def test_a_range_with_nothing_free_falls_back_to_the_kernels_choice(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        taken.listen()
        monkeypatch.setattr(ports, "LOW", busy)
        monkeypatch.setattr(ports, "HIGH", busy + 1)
        port = ports.free_port()
        assert port != busy
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
