"""One opportunity's hops in order, from the frames that mention it (an archive or the mesh).

:class:`TraceBuilder` takes frames one at a time (``see``) and keeps only what the trace of
opportunity ``oid`` needs: its ``ArbitrageOpportunity`` frame, its ``ExecutionResult`` frames
and the ``BlockEnd`` frame that started its trace. :meth:`TraceBuilder.timeline` then lists the
hops (docs/tracing.md) with the gap from each to the next; a hop with no time (a trade refused
before signing, a ring the archive did not record) is left out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from alphapulse.errors import AlphaPulseError
from mesh.protocol import ArbitrageOpportunity, ExecutionDetail, ExecutionResult, decode_frame
from mesh.protocol.constants import EXTENDED_TLV_MARKER, HEADER_SIZE, ExecutionStatus, SourceType
from mesh.protocol.messages import BlockEnd, TraceContext
from nodes.tracing.spans import read_spans

__all__ = ["Hop", "TraceBuilder", "TraceNotFound"]

_TS = struct.Struct("<Q")
_OPP, _RESULT, _END = ArbitrageOpportunity.TLV_TYPE, ExecutionResult.TLV_TYPE, BlockEnd.TLV_TYPE
_NEVER = 2**64


class TraceNotFound(AlphaPulseError):
    """No frame of the opportunity asked for (an unknown id, or not archived / not seen yet)."""

    kind = "trace_not_found"


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a trade's path: what, when (wall ns) and where the time comes from."""

    name: str
    ns: int
    origin: str


@dataclass(slots=True)
class _Seen:
    frame: bytes
    recv_ns: int | None
    status: int = -1  # a result's ExecutionStatus


@dataclass(slots=True)
class TraceBuilder:
    """Collects the frames of one opportunity's trace (see the module docstring)."""

    oid: int
    now_ns: int = _NEVER - 1
    opportunity: _Seen | None = None
    results: list[_Seen] = field(default_factory=list)
    block_ends: dict[bytes, _Seen] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def see(self, frame: bytes, recv_ns: int | None = None) -> None:
        """Take one frame (any domain; frames of no interest cost a byte compare)."""
        if len(frame) < HEADER_SIZE + 2 + 8:
            return
        kind = frame[HEADER_SIZE]
        if kind == EXTENDED_TLV_MARKER:
            kind = frame[HEADER_SIZE + 2]
        if kind == _END:
            spans = read_spans(frame, self.now_ns).spans
            if spans and spans[-1].span_depth == 0:
                self.block_ends.setdefault(bytes(spans[-1].trace_id), _Seen(bytes(frame), recv_ns))
            return
        if kind not in (_OPP, _RESULT):
            return
        try:
            first = decode_frame(frame).tlvs[0]
        except AlphaPulseError as exc:
            self.problems.append(exc.kind)
            return
        if getattr(first, "opportunity_id", None) != self.oid:
            return
        if isinstance(first, ArbitrageOpportunity):
            self.opportunity = self.opportunity or _Seen(bytes(frame), recv_ns)
        elif isinstance(first, ExecutionResult):
            self.results.append(_Seen(bytes(frame), recv_ns, first.status))

    def final(self) -> tuple[ExecutionResult | None, ExecutionDetail | None, _Seen | None]:
        """The last result that is not SUBMITTED (else the last SUBMITTED), with its detail."""
        chosen = None
        for seen in self.results:
            if chosen is None or seen.status != ExecutionStatus.SUBMITTED or \
                    chosen.status == ExecutionStatus.SUBMITTED:
                chosen = seen
        if chosen is None:
            return None, None, None
        frame = decode_frame(chosen.frame)
        result, detail = frame.first(ExecutionResult), frame.first(ExecutionDetail)
        return (result if isinstance(result, ExecutionResult) else None,
                detail if isinstance(detail, ExecutionDetail) else None, chosen)

    @property
    def done(self) -> bool:
        """A final (not SUBMITTED) result came in: the trace will not grow."""
        result = self.final()[0]
        return result is not None and result.status != ExecutionStatus.SUBMITTED

    def spans(self) -> list[TraceContext]:
        """The longest chain of spans seen (the final result's, else the opportunity's)."""
        seen = self.final()[2] or self.opportunity
        if seen is None:
            return []
        got = read_spans(seen.frame, self.now_ns)
        return got.spans

    def timeline(self) -> dict[str, Any]:
        """The trace as one JSON-ready object: ids, status, hops with their gaps, problems.

        Raises :class:`TraceNotFound` when no frame of the opportunity was seen.
        """
        if self.opportunity is None and not self.results:
            raise TraceNotFound(f"no frame of opportunity {self.oid} found")
        result, detail, seen = self.final()
        spans = self.spans()
        hops: list[Hop] = []
        trace_id = bytes(spans[0].trace_id) if spans else b""
        by_depth = {s.span_depth: s for s in spans}
        root = by_depth.get(0)
        if root is not None:
            origin = "root span"
            hops.append(Hop("collector received", root.start_timestamp_ns, origin))
            if root.source_service == SourceType.POLYGON_COLLECTOR:
                hops.append(Hop("collector closed block", root.current_timestamp_ns, origin))
            end = self.block_ends.get(trace_id)
            if end is not None:
                hops.append(Hop("ring written", _TS.unpack_from(end.frame, 16)[0], "BlockEnd header"))
                if end.recv_ns:
                    hops.append(Hop("ring archived", end.recv_ns, "archive"))
        strategy = next((s for s in spans if s.source_service == SourceType.ARBITRAGE_STRATEGY), None)
        if strategy is not None:
            hops.append(Hop("strategy published", strategy.current_timestamp_ns, "strategy span"))
        elif self.opportunity is not None:
            hops.append(Hop("strategy published", _TS.unpack_from(self.opportunity.frame, 16)[0], "header"))
        if detail is not None:
            for name, ns in (("executor received", detail.received_ns), ("executor checked", detail.validated_ns),
                             ("executor simulated", detail.simulated_ns), ("executor signed", detail.signed_ns),
                             ("executor sent", detail.sent_ns), ("included", detail.included_ns)):
                hops.append(Hop(name, ns, "ExecutionDetail"))
        if seen is not None:
            executor = next((s for s in spans if s.source_service == SourceType.EXECUTION_ENGINE), None)
            ns = executor.current_timestamp_ns if executor is not None else _TS.unpack_from(seen.frame, 16)[0]
            hops.append(Hop("result published", ns, "executor span" if executor is not None else "header"))
        return _render(self.oid, trace_id, result, spans, [h for h in hops if h.ns], self.problems)


def _render(oid: int, trace_id: bytes, result: ExecutionResult | None, spans: list[TraceContext],
            hops: list[Hop], problems: list[str]) -> dict[str, Any]:
    start = hops[0].ns if hops else 0
    out = []
    for i, h in enumerate(hops):
        out.append({"hop": h.name, "ns": h.ns, "origin": h.origin,
                    "gap_ns": h.ns - hops[i - 1].ns if i else 0, "since_start_ns": h.ns - start})
    return {
        "opportunity_id": oid, "trace_id": trace_id.hex(),
        "status": ExecutionStatus(result.status).name if result is not None else "NO_RESULT",
        "block_number": result.block_number if result is not None else 0,
        "tx_hash": "0x" + bytes(result.tx_hash).hex() if result is not None and any(result.tx_hash) else "",
        "spans": [{"depth": s.span_depth, "source": _source(s.source_service), "stage_flags": s.stage_flags,
                   "current_ns": s.current_timestamp_ns} for s in reversed(spans)],
        "hops": out, "problems": sorted(set(problems)),
    }


def _source(value: int) -> str:
    try:
        return SourceType(value).name
    except ValueError:
        return str(value)
