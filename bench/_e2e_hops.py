"""The hops of ``python -m bench e2e``, from what :class:`bench._e2e_mesh.Observer` saw.

A helper of ``bench/e2e.py``. Blocks come from collector-evm's ring: a block's frames are
written before its ``BlockEnd``, so the first frame after the previous ``BlockEnd`` is the
block's first price update. Opportunities are matched to their ``detected_block``; executions
to their opportunity through ``ExecutionResult.detected_ns`` (the opportunity frame's header
timestamp, as the executor received it) and the ``ExecutionDetail`` beside each result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench._e2e_mesh import Seen
from bench.report import Row, latency_row
from mesh.protocol import ArbitrageOpportunity, ExecutionDetail, ExecutionResult
from mesh.protocol.constants import ExecutionStatus

#: The seeds' targets, milliseconds.
DETECTION_TARGET_MS = 50
EXECUTION_TARGET_MS = 500


@dataclass(slots=True, frozen=True)
class BlockTimes:
    """One block as collector-evm wrote it (CLOCK_REALTIME ns)."""

    received_ns: int      # BlockEnd.received_ns: the collector had the block
    first_frame_ns: int   # header timestamp of the block's first frame in the ring
    block_end_ns: int     # header timestamp of its BlockEnd


def block_times(seen: Seen) -> dict[int, BlockTimes]:
    """Per block number, when it reached collector-evm and its ring."""
    out: dict[int, BlockTimes] = {}
    first: dict[str, int] = {}  # per ring: the first frame since its last BlockEnd
    for f in seen.ring_frames:
        first.setdefault(f.ring, f.timestamp_ns)
        if f.block_end is not None:
            out[f.block_end.block_number] = BlockTimes(f.block_end.received_ns, first.pop(f.ring),
                                                       f.timestamp_ns)
    return out


def _row(bench: str, case: str, samples: list[int], target_ms: int | None = None) -> Row:
    if not samples:
        return Row(bench, case, extra={"samples": 0})
    extra = {}
    if target_ms is not None:
        p99 = float(np.percentile(np.asarray(samples, np.float64), 99)) / 1e6
        extra = {"target_ms": target_ms, "p99_met": "yes" if p99 <= target_ms else "no"}
    return latency_row(bench, case, np.asarray(samples, np.int64), **extra)


def hop_rows(bench: str, seen: Seen, start_ns: int, end_ns: int) -> list[Row]:
    """One row per hop for the opportunities published in ``[start_ns, end_ns)``."""
    blocks = block_times(seen)
    with seen.lock:
        deliveries = list(seen.deliveries)
    opps: dict[int, tuple[int, ArbitrageOpportunity]] = {}
    sent: dict[int, ExecutionDetail] = {}
    included: dict[int, ExecutionDetail] = {}
    for _, delivery in deliveries:
        tlvs = delivery.frame.tlvs
        if not tlvs:
            continue
        if type(tlvs[0]) is ArbitrageOpportunity and start_ns <= delivery.header.timestamp_ns < end_ns:
            opps.setdefault(tlvs[0].opportunity_id, (delivery.header.timestamp_ns, tlvs[0]))
        elif type(tlvs[0]) is ExecutionResult and len(tlvs) > 1 and type(tlvs[1]) is ExecutionDetail:
            result, detail = tlvs[0], tlvs[1]
            if detail.sent_ns:
                sent.setdefault(result.opportunity_id, detail)
            if result.status == ExecutionStatus.INCLUDED and detail.included_ns:
                included.setdefault(result.opportunity_id, detail)
    chain_ring = [b.block_end_ns - b.received_ns for n, b in blocks.items()
                  if start_ns <= b.block_end_ns < end_ns and b.received_ns]
    detect_first, detect_end, to_executor, in_executor, execution, inclusion, whole = ([] for _ in range(7))
    for oid, (published, opp) in opps.items():
        block = blocks.get(opp.detected_block)
        if block is not None:
            detect_first.append(published - block.first_frame_ns)
            detect_end.append(published - block.block_end_ns)
        if (d := sent.get(oid)) is not None:
            to_executor.append(d.received_ns - published)
            in_executor.append(d.sent_ns - d.received_ns)
            execution.append(d.sent_ns - published)
        if (d := included.get(oid)) is not None:
            inclusion.append(d.included_ns - d.sent_ns)
            if block is not None:
                whole.append(d.included_ns - block.first_frame_ns)
    return [
        _row(bench, "chain: collector-evm has the block -> its BlockEnd in the ring", chain_ring),
        _row(bench, "detection: block's first price update in the ring -> opportunity published",
             detect_first, DETECTION_TARGET_MS),
        _row(bench, "  from the block's BlockEnd in the ring -> opportunity published", detect_end),
        _row(bench, "execution: opportunity published -> transaction accepted", execution,
             EXECUTION_TARGET_MS),
        _row(bench, "  opportunity published -> executor received it (ZeroMQ)", to_executor),
        _row(bench, "  executor received -> transaction accepted (batch, checks, simulate, sign, send)",
             in_executor),
        _row(bench, "inclusion: transaction accepted -> receipt seen", inclusion),
        _row(bench, "whole: price update in the ring -> receipt seen", whole),
    ]
