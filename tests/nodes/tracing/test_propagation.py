"""A trace through the real nodes: collector-evm's block, the strategy's opportunity, the
executor's result, then ``alphapulse trace`` over an archive of what they sent."""

from __future__ import annotations

import json

import pytest

from mesh.cli import main
from mesh.protocol import ArbitrageOpportunity, ExecutionResult, decode_frame, encode_frame
from mesh.protocol.constants import ExecutionStatus, RejectReason, RelayDomain, SourceType
from mesh.protocol.frame import UnknownTLV
from mesh.protocol.messages import BlockEnd
from nodes.runtime.testing import NodeHarness
from nodes.tracing.spans import COLLECTED, EXECUTED, PROCESSED, read_spans
from tests.nodes.tracing.frames import write_archive

pytestmark = pytest.mark.chain
_FAR = 2**63 - 1


def _block_ends(frames) -> dict[int, bytes]:
    out = {}
    for _domain, raw in frames:
        frame = decode_frame(raw)
        end = frame.first(BlockEnd)
        if isinstance(end, BlockEnd):
            out[end.block_number] = raw
    return out


def _with_bad_span(raw: bytes) -> bytes:
    """``raw`` (a BlockEnd frame) with a TraceContext TLV of the wrong size appended."""
    frame = decode_frame(raw)
    if not isinstance(frame.first(BlockEnd), BlockEnd):
        return raw
    return encode_frame([*frame.tlvs, UnknownTLV(108, bytes(31))], source=frame.header.source,
                        sequence=frame.header.sequence, timestamp_ns=frame.header.timestamp_ns)


def test_one_trace_from_the_collectors_block_to_the_executors_result(net, tmp_path, capsys):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(net.manifest))
    with NodeHarness("collector-evm", settings={"manifest": str(path)}, start_timeout=90) as c:
        c.wait_for_ring(BlockEnd, timeout=60)
        c.assert_contract()
        ring = list(c.ring_frames)
    ends = _block_ends(ring)
    for raw in ends.values():
        spans = read_spans(raw, _FAR).spans
        assert len(spans) == 1 and spans[0].span_depth == 0 and spans[0].stage_flags == COLLECTED
        assert spans[0].source_service == SourceType.POLYGON_COLLECTOR
        assert spans[0].start_timestamp_ns <= spans[0].current_timestamp_ns
        assert spans[0].trace_id == spans[0].start_timestamp_ns.to_bytes(8, "little")

    with NodeHarness("strategy", settings={"manifest": str(path), "recipient": net.recipient,
                                           "valid_blocks": 1000, "valid_ms": 600_000},
                     mesh={"deadline_ms": 0}, start_timeout=180) as s:
        for _domain, raw in ring:  # each block's frame with a hostile span too: counted, skipped
            s.feed_ring_raw(_with_bad_span(raw), RelayDomain.MARKET_DATA)
        s.wait_for(ArbitrageOpportunity, timeout=120)
        s.assert_contract()
        assert s.metric("alphapulse_errors_total", kind="trace_size") >= 1
        published = [bytes(d.raw) for d in s.deliveries if isinstance(d.frame.tlvs[0], ArbitrageOpportunity)]
    opp_raw = max(published, key=lambda r: decode_frame(r).tlvs[0].expected_profit)  # as the executor tests
    opp = decode_frame(opp_raw).tlvs[0]
    assert isinstance(opp, ArbitrageOpportunity)
    strategy, collector = read_spans(opp_raw, _FAR).spans
    assert collector == read_spans(ends[opp.detected_block], _FAR).spans[0]
    assert (strategy.span_depth, strategy.source_service, strategy.trace_id) == \
        (1, SourceType.ARBITRAGE_STRATEGY, collector.trace_id)
    assert strategy.stage_flags == COLLECTED | PROCESSED
    assert strategy.current_timestamp_ns >= collector.current_timestamp_ns

    with NodeHarness("executor", settings={"manifest": str(path), "recipient": net.recipient,
                                           "journal": str(tmp_path / "executor.journal")},
                     mesh={"deadline_ms": 0}, start_timeout=90) as e:
        route = decode_frame(opp_raw).tlvs[1]
        # Hostile: a span that cannot grow (counted, carried at 255) on an opportunity refused
        # for its strategy; a TraceContext of the wrong size (the whole frame is malformed).
        deep = opp.replace(opportunity_id=opp.opportunity_id + 1, strategy_id=42)
        e.feed(deep, route.replace(opportunity_id=deep.opportunity_id), strategy.replace(span_depth=255))
        e.feed(opp.replace(opportunity_id=opp.opportunity_id + 2), route, UnknownTLV(108, bytes(31)))
        e.feed(*decode_frame(opp_raw).tlvs)
        e.wait_for(ExecutionResult, timeout=60, where=lambda r: r.opportunity_id == opp.opportunity_id
                   and r.status != ExecutionStatus.SUBMITTED)
        e.assert_contract()
        assert e.metric("alphapulse_errors_total", kind="trace_depth") == 1
        results = [bytes(d.raw) for d in e.deliveries if isinstance(d.frame.tlvs[0], ExecutionResult)]
    refused = [r for r in results if decode_frame(r).tlvs[0].opportunity_id == deep.opportunity_id]
    assert len(refused) == 1 and decode_frame(refused[0]).tlvs[1].reject_reason == RejectReason.STRATEGY_NOT_ALLOWED
    assert read_spans(refused[0], _FAR).spans[0].span_depth == 255
    assert not [r for r in results if decode_frame(r).tlvs[0].opportunity_id == opp.opportunity_id + 2]
    results = [r for r in results if decode_frame(r).tlvs[0].opportunity_id == opp.opportunity_id]
    final = results[-1]
    assert decode_frame(final).tlvs[0].status == ExecutionStatus.INCLUDED
    mine, *before = read_spans(final, _FAR).spans
    assert before == [strategy, collector]
    assert (mine.span_depth, mine.source_service, mine.trace_id) == (2, SourceType.EXECUTION_ENGINE, collector.trace_id)
    assert mine.stage_flags == COLLECTED | PROCESSED | EXECUTED

    archive = write_archive(tmp_path / "archive", {
        "market-data": [(decode_frame(r).header.timestamp_ns, r) for _d, r in ring],
        "signal": [(decode_frame(opp_raw).header.timestamp_ns, opp_raw)],
        "execution": [(decode_frame(r).header.timestamp_ns, r) for r in results]})
    assert main(["trace", str(opp.opportunity_id), "--archive", str(archive), "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    hops = {h["hop"]: h["ns"] for h in trace["hops"]}
    assert trace["status"] == "INCLUDED" and trace["problems"] == []
    for hop in ("collector received", "ring written", "strategy published", "executor signed", "executor sent",
                "included", "result published"):
        assert hops.get(hop, 0) > 0, (hop, trace)
    assert hops["collector received"] <= hops["strategy published"] <= hops["executor sent"] <= hops["included"]
