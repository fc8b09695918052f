"""Starting and stopping the local anvil: ports, interval mining, failures, the mining helpers."""

from __future__ import annotations

import socket
import time

import pytest

from alphapulse.ports import free_port
from contracts.anvil import AnvilFailed, PortInUse, mine, port_is_free, start_anvil, stop_anvil
from contracts.client import Chain
from tests.contracts.bare import running_anvil

pytestmark = pytest.mark.chain


def test_start_answers_json_rpc_and_stop_frees_the_port():
    port = free_port()
    proc = start_anvil(port)
    try:
        assert not port_is_free(port)
        assert Chain(f"http://127.0.0.1:{port}").chain_id == 31337
    finally:
        stop_anvil(proc)
    assert proc.poll() is not None
    assert port_is_free(port)


def test_a_taken_port_raises_port_in_use_before_starting_anything():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(PortInUse, match="already in use"):
            start_anvil(sock.getsockname()[1])


def test_an_anvil_that_exits_at_once_raises_anvil_failed():
    with pytest.raises(AnvilFailed, match="exited"):
        start_anvil(free_port(), extra_args=["--no-such-option"])


def test_block_time_mines_blocks_without_transactions():
    with running_anvil(block_time=0.2) as url:
        chain = Chain(url)
        first = chain.block_number()
        deadline = time.monotonic() + 10
        while chain.block_number() < first + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert chain.block_number() >= first + 2


def test_mine_adds_exactly_the_blocks_asked_for():
    with running_anvil() as url:
        chain = Chain(url)
        before = chain.block_number()
        mine(chain, 3)
        assert chain.block_number() == before + 3
