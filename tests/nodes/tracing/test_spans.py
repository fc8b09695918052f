"""TraceContext spans: formed, carried, and hostile ones counted (never raised)."""

from __future__ import annotations

import struct

from mesh.protocol import decode_frame, encode_frame
from mesh.protocol.constants import SourceType
from mesh.protocol.frame import UnknownTLV
from mesh.protocol.messages import GasPrice, TraceContext
from nodes.tracing.spans import (
    COLLECTED,
    EXECUTED,
    MAX_SPANS,
    PROCESSED,
    carry,
    read_spans,
    root,
    trace_id_of,
)

NOW = 1_700_000_000_000_000_000
GAS = GasPrice(block_number=1, timestamp_ns=NOW, gas_price_gwei=1, base_fee_gwei=1, priority_fee_gwei=0, venue=1)


def _frame(*tlvs) -> bytes:
    return encode_frame([GAS, *tlvs], source=4)


def test_a_trace_is_rooted_carried_one_hop_deeper_and_read_back_newest_first():
    first = root(SourceType.POLYGON_COLLECTOR, NOW - 500, NOW, COLLECTED)
    assert first.trace_id == trace_id_of(NOW - 500) == (NOW - 500).to_bytes(8, "little")
    assert (first.span_depth, first.stage_flags, first.current_timestamp_ns) == (0, COLLECTED, NOW)
    two = carry(_frame(first), SourceType.ARBITRAGE_STRATEGY, PROCESSED, NOW + 10)
    assert two.problems == [] and len(two.spans) == 2
    mine = two.spans[0]
    assert (mine.trace_id, mine.start_timestamp_ns, mine.span_depth) == (first.trace_id, NOW - 500, 1)
    assert mine.stage_flags == COLLECTED | PROCESSED and mine.current_timestamp_ns == NOW + 10
    three = carry(_frame(*two.spans), SourceType.EXECUTION_ENGINE, EXECUTED, NOW + 20)
    assert [s.span_depth for s in three.spans] == [2, 1, 0]
    raw = _frame(*three.spans)
    # upstream's first-match lookup sees the newest hop; the frame still decodes strictly
    assert decode_frame(raw).first(TraceContext) == three.spans[0]
    assert read_spans(raw, NOW + 30).spans == three.spans


def test_a_frame_without_a_trace_starts_one_at_the_given_time():
    got = carry(_frame(), SourceType.ARBITRAGE_STRATEGY, PROCESSED, NOW, start_ns=NOW - 7)
    assert got.problems == [] and len(got.spans) == 1
    assert (got.spans[0].span_depth, got.spans[0].start_timestamp_ns) == (0, NOW - 7)
    assert carry(None, 1, 0, NOW).spans[0].start_timestamp_ns == NOW


def _span(**over) -> TraceContext:
    base = root(SourceType.POLYGON_COLLECTOR, NOW - 100, NOW - 50, COLLECTED)
    return base.replace(**over)  # type: ignore[return-value]


def test_hostile_spans_are_named_by_kind_and_skipped():
    good = _span()
    cases = {
        "trace_size": UnknownTLV(108, bytes(31)),
        "trace_time": _span(current_timestamp_ns=NOW - 200),  # before its start
    }
    for kind, tlv in cases.items():
        got = read_spans(_frame(tlv, good), NOW)
        assert got.problems == [kind] and got.spans == [good], kind
    for absurd in (_span(start_timestamp_ns=0), _span(current_timestamp_ns=2**64 - 1),
                   _span(current_timestamp_ns=NOW + 3600 * 10**9)):
        got = carry(_frame(absurd), SourceType.ARBITRAGE_STRATEGY, PROCESSED, NOW)
        assert got.problems == ["trace_time"] and got.spans[0].span_depth == 0  # a fresh trace
    other = _span(trace_id=b"\x01" * 8)
    assert read_spans(_frame(good, other), NOW).problems == ["trace_mixed"]


def test_an_oversized_trace_tlv_in_extended_form_and_cut_framing_do_not_raise():
    big = _frame(UnknownTLV(108, bytes(300)))
    assert read_spans(big, NOW).problems == ["trace_size"]
    cut = _frame(_span())[:-5]
    assert read_spans(cut, NOW).spans == []
    assert read_spans(b"\x00" * 3, NOW).spans == []


def test_depth_overflow_and_long_chains_are_bounded_and_counted():
    deep = _span(span_depth=255)
    got = carry(_frame(deep), SourceType.EXECUTION_ENGINE, EXECUTED, NOW)
    assert got.problems == ["trace_depth"] and got.spans[0].span_depth == 255
    chain = [_span(span_depth=d) for d in range(MAX_SPANS + 2, 0, -1)]
    got = read_spans(_frame(*chain), NOW)
    assert len(got.spans) == MAX_SPANS and got.problems == ["trace_spans", "trace_spans"]
    carried = carry(_frame(*chain[:MAX_SPANS]), SourceType.EXECUTION_ENGINE, EXECUTED, NOW)
    assert len(carried.spans) == MAX_SPANS and carried.spans[0].span_depth == MAX_SPANS + 3


def test_the_layout_is_upstreams():
    span = _span(span_depth=3, stage_flags=0x05)
    value = span.encode_value()
    assert len(value) == 32
    assert struct.unpack("<QQBBBB4x8s", value) == (NOW - 100, NOW - 50, 4, 3, 5, 0, span.trace_id)
