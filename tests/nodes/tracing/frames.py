"""A traced trade as frames (collector BlockEnd, opportunity, results), and an archive of them."""

from __future__ import annotations

from pathlib import Path

from mesh.protocol import ArbitrageOpportunity, ExecutionDetail, ExecutionResult, encode_frame
from mesh.protocol.constants import ExecutionStatus, SourceType
from mesh.protocol.messages import ArbitrageRoute, BlockEnd, GasPrice
from nodes.archiver.store import DomainStore
from nodes.tracing.spans import COLLECTED, EXECUTED, PROCESSED, carry, root

T0 = 1_764_650_000_000_000_000  # 2025-12-02, ns
OID = 424242


def traced_trade(oid: int = OID, t0: int = T0) -> dict[str, list[tuple[int, bytes]]]:
    """``{domain: [(recv_ns, frame)]}`` of one trade whose hops are t0 + 1, 2, ... ms."""
    ms = 1_000_000
    span0 = root(SourceType.POLYGON_COLLECTOR, t0, t0 + 1 * ms, COLLECTED)
    end = encode_frame([BlockEnd(block_number=77, received_ns=t0 + ms, chain_id=31337), GasPrice(block_number=77),
                        span0], source=4, timestamp_ns=t0 + 2 * ms)
    now = t0 + 3 * ms
    spans = carry(end, SourceType.ARBITRAGE_STRATEGY, PROCESSED, now).spans
    opp = encode_frame([ArbitrageOpportunity(opportunity_id=oid, chain_id=31337, detected_block=77,
                                             hop_fee_ppm=(3000,), pool_kinds=(1,), pools=(b"\x01" * 20,),
                                             tokens=(b"\x02" * 20, b"\x03" * 20)),
                        ArbitrageRoute(opportunity_id=oid, amounts_out=(1,)), *spans], source=20, timestamp_ns=now)
    detail = {"received_ns": t0 + 4 * ms, "validated_ns": t0 + 5 * ms, "simulated_ns": t0 + 6 * ms,
              "signed_ns": t0 + 7 * ms, "sent_ns": t0 + 8 * ms}
    sent_spans = carry(opp, SourceType.EXECUTION_ENGINE, EXECUTED, t0 + 9 * ms).spans
    submitted = encode_frame([ExecutionResult(opportunity_id=oid, status=int(ExecutionStatus.SUBMITTED)),
                              ExecutionDetail(opportunity_id=oid, **detail), *sent_spans],
                             source=42, timestamp_ns=t0 + 9 * ms)
    done_spans = carry(opp, SourceType.EXECUTION_ENGINE, EXECUTED, t0 + 11 * ms).spans
    included = encode_frame([ExecutionResult(opportunity_id=oid, status=int(ExecutionStatus.INCLUDED),
                                             block_number=78, tx_hash=b"\xab" * 32),
                             ExecutionDetail(opportunity_id=oid, included_ns=t0 + 10 * ms, **detail), *done_spans],
                            source=42, timestamp_ns=t0 + 11 * ms)
    return {"market-data": [(t0 + 2 * ms + 500, end)], "signal": [(now + 500, opp)],
            "execution": [(t0 + 9 * ms + 500, submitted), (t0 + 11 * ms + 500, included)]}


def write_archive(root: Path, frames: dict[str, list[tuple[int, bytes]]]) -> Path:
    """An archive (the archiver's own writer) holding ``frames``."""
    for domain, rows in frames.items():
        store = DomainStore(root, domain, 1 << 30, 3600.0)
        store.append((ns, f"zmq:{domain}" if domain != "market-data" else "ring:/ap.t.market-data.c", f)
                     for ns, f in rows)
        store.rotate()
    return root
