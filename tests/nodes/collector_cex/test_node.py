"""The collector-cex node (a subprocess on a private mesh) against the replay exchange."""

from __future__ import annotations

import time
from typing import Any

import pytest
from websockets.sync.client import connect

from cex.exchange import serve_in_thread
from cex.frames import order_book
from mesh.protocol import InstrumentId, OrderBook, StateInvalidation, VenueId, decode_frame
from mesh.protocol.constants import InvalidationReason, RelayDomain, SourceType
from nodes.runtime.testing import HarnessError, NodeHarness
from tests.nodes.collector_cex.replay import FIXTURES, expected_books, script

SPEC = "nodes.collector_cex:CexCollectorNode"
ETH = InstrumentId.coin(int(VenueId.BINANCE), "ETH/USDT")


def settings(ex: Any, **more: Any) -> dict[str, Any]:
    return {"venues": "binance", "binance_ws": ex.ws_url, "binance_rest": ex.http_url,
            "binance_symbols": "ETHUSDT", "backoff_min_ms": 100, "backoff_max_ms": 1000,
            "log_every_s": 0.5, **more}


def wait_metric(node: NodeHarness, name: str, value: float, timeout: float = 10.0,
                **labels: str) -> None:
    deadline = time.monotonic() + timeout
    while node.metric(name, **labels) != value:
        if time.monotonic() > deadline:
            raise HarnessError(f"{name}{labels} = {node.metric(name, **labels)}, not {value}")
        time.sleep(0.02)


@pytest.mark.parametrize("fast", [True, False], ids=["compiled_depth", "python_depth"])
def test_the_node_writes_exact_books_and_counts_a_disconnection(fast: bool) -> None:
    steps = script("binance_disconnect.jsonl")
    want = expected_books(steps, [(0, [101]), (1, [302, 303])])
    with serve_in_thread(script=FIXTURES / "binance_disconnect.jsonl") as ex, \
            NodeHarness(SPEC, settings=settings(ex, binance_fast_depth=fast)) as node:
        node.wait_for_ring(OrderBook, where=lambda b: b.sequence == 101, timeout=15)
        wait_metric(node, "alphapulse_cex_connected", 1, venue="binance")
        with connect(f"{ex.ws_url}/stream?streams=xrpusdt@trade", proxy=None):
            node.wait_for_ring(OrderBook, where=lambda b: b.sequence == 303, timeout=15)
        wait_metric(node, "alphapulse_cex_disconnections_total", 1, venue="binance")
        assert node.metric("alphapulse_cex_connected", venue="binance") == 1
        frames = [decode_frame(raw) for domain, raw in node.ring_frames
                  if domain == RelayDomain.MARKET_DATA]
    books = [(f.header, f.tlvs[0]) for f in frames if type(f.tlvs[0]) is OrderBook]
    for header, book in books:                      # byte for byte what the model says
        bids, asks = want[book.sequence]
        assert book.encode_tlv() == order_book(ETH, bids, asks, book.sequence,
                                               book.snapshot_timestamp_ns).encode_tlv()
        assert header.source == SourceType.BINANCE_COLLECTOR
        assert header.domain == RelayDomain.MARKET_DATA
        assert abs(header.timestamp_ns - time.time_ns()) < 120e9   # the receive time
    assert [f.header.sequence for f in frames] == list(range(len(frames)))
    invalidations = [f.tlvs[0] for f in frames if type(f.tlvs[0]) is StateInvalidation]
    assert invalidations[0].reason == InvalidationReason.DISCONNECTION
    assert [i.asset_id for i in invalidations[0].instruments] == [ETH.asset_id]
    sequences = [t.sequence for f in frames for t in f.tlvs
                 if type(t) in (OrderBook, StateInvalidation)]
    assert sequences.index(0) < sequences.index(302)  # invalidated before the new book


def test_bad_input_is_counted_by_kind_and_the_node_lives_on() -> None:
    with serve_in_thread(script=FIXTURES / "binance_session.jsonl") as ex, \
            NodeHarness(SPEC, settings=settings(ex)) as node:
        node.wait_for_ring(OrderBook, where=lambda b: b.sequence == 1004, timeout=15)
        with connect(f"{ex.ws_url}/stream?streams=xrpusdt@trade", proxy=None):
            node.wait_for_ring(OrderBook, where=lambda b: b.sequence == 1014, timeout=15)
        for kind in ("bad_json", "bad_field", "precision", "stale", "gap"):
            wait_metric(node, "alphapulse_errors_total", 1, kind=kind)
        assert node.proc is not None and node.proc.poll() is None
        assert "Traceback" not in node.log()


def test_an_unknown_venue_is_a_configuration_error() -> None:
    with pytest.raises(HarnessError), NodeHarness(SPEC, settings={"venues": "kraken"},
                                                  start_timeout=5):
        pass
